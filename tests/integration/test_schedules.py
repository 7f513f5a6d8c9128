"""Every periodic job of config/schedules.py names a task the Celery app has registered (a
typo would only show as a beat log line, never run), and runs often enough for its job."""

from config.celery import app
from config.schedules import BEAT_SCHEDULE


def test_every_periodic_job_names_a_registered_task():
    app.loader.import_default_modules()  # autodiscovery of the apps' tasks modules
    missing = {name: entry["task"] for name, entry in BEAT_SCHEDULE.items() if entry["task"] not in app.tasks}
    assert not missing, f"periodic jobs naming no registered task: {missing}"


def test_stale_exports_are_requeued_well_within_the_time_that_makes_them_stale():
    from exports.models import STALE_AFTER

    assert BEAT_SCHEDULE["requeue-stale-exports"]["schedule"] <= STALE_AFTER.total_seconds() / 2
