"""Thin Celery tasks: take ids, call one service.

Refits acknowledge their message only when done (acks_late) and hand it back if the worker
dies under them (reject_on_worker_lost), so a killed worker's refit runs again; the service
gives a study's refits up after MAX_REFIT_ATTEMPTS such deaths in a row."""

from celery import shared_task

from elicitation.model_state import stale_studies_refit, study_state_refit
from elicitation.services import leases_expire


@shared_task
def expire_leases() -> int:
    return leases_expire()


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def refit_study(study_id: int) -> None:
    """Refit a study's strategy state (queued by the next-unit request when it is behind)."""
    study_state_refit(study_id=study_id)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def refit_stale_studies() -> int:
    return stale_studies_refit()
