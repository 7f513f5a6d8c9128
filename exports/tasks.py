"""Thin Celery tasks: take ids, call one service."""

import logging

from celery import shared_task

from exports.services import export_run

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def run_export(job_id: int) -> None:
    try:
        export_run(job_id=job_id)
    except Exception:
        log.exception("export job %s failed", job_id)
