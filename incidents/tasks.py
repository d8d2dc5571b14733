"""Celery tasks of incident management: doorbells, each calling one service (STYLE.md §7)."""

from celery import shared_task

from . import escalation


@shared_task(name="incidents.sweep_deadlines", acks_late=True, reject_on_worker_lost=True)
def sweep_deadlines() -> int:
    """§8.4: apply every due escalation step (safe to run twice, or on several workers)."""
    return escalation.sweep_deadlines()
