"""Every periodic job, in one place (read by settings.CELERY_BEAT_SCHEDULE)."""

BEAT_SCHEDULE = {
    "expire-stale-leases": {
        "task": "elicitation.tasks.expire_leases",
        "schedule": 60.0,
    },
}
