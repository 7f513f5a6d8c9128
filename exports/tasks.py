"""Thin Celery tasks: take ids, call one service.

Exports and imports acknowledge their message only when done (acks_late) and hand it back if
the worker dies under them (reject_on_worker_lost), so a killed worker's job runs again; the
services make a second run safe (exports start over, imports are all-or-nothing)."""

import logging

from celery import shared_task

from exports.services import export_run, exports_requeue_stale, import_run

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_export(job_id: int) -> None:
    try:
        export_run(job_id=job_id)
    except Exception:
        log.exception("export job %s failed", job_id)


@shared_task
def requeue_stale_exports() -> dict:
    return exports_requeue_stale()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_import(job_id: int) -> None:
    try:
        import_run(job_id=job_id)
    except Exception:
        log.exception("import job %s failed", job_id)
