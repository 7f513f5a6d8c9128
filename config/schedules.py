"""Every periodic job, in one place (read by settings.CELERY_BEAT_SCHEDULE)."""

BEAT_SCHEDULE = {
    "expire-stale-leases": {
        "task": "elicitation.tasks.expire_leases",
        "schedule": 60.0,
    },
    # Safety net for the refits the next-unit request queues: a study whose cached model
    # state misses judgments (flushed cache, lost counter) is refitted within 5 minutes.
    "refit-stale-elicitation-states": {
        "task": "elicitation.tasks.refit_stale_studies",
        "schedule": 300.0,
    },
    # Exports whose worker went silent (killed, lost) are queued again, or failed after
    # MAX_ATTEMPTS, so that no job stays "running" forever.
    "requeue-stale-exports": {
        "task": "exports.tasks.requeue_stale_exports",
        "schedule": 300.0,
    },
}
