"""Thin Celery tasks: take ids, call one service."""

from celery import shared_task

from elicitation.model_state import stale_studies_refit, study_state_refit
from elicitation.services import leases_expire


@shared_task
def expire_leases() -> int:
    return leases_expire()


@shared_task(ignore_result=True)
def refit_study(study_id: int) -> None:
    """Refit a study's strategy state (queued by the next-unit request when it is behind)."""
    study_state_refit(study_id=study_id)


@shared_task(ignore_result=True)
def refit_stale_studies() -> int:
    return stale_studies_refit()
