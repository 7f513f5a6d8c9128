"""Thin Celery tasks: take ids, call one service."""

from celery import shared_task

from elicitation.services import leases_expire


@shared_task
def expire_leases() -> int:
    return leases_expire()
