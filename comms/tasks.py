"""Celery tasks of incident communication: doorbells that call one service each."""

from celery import shared_task

from . import cadence, services


@shared_task(name=services.DELIVER_TASK, acks_late=True, reject_on_worker_lost=True)
def deliver_update(update_id: int) -> int:
    """Send one stakeholder update to every subscriber."""
    return services.deliver_update(update_id)


@shared_task(name="comms.sweep_updates", acks_late=True)
def sweep_updates() -> dict:
    """Remind commanders of due updates, escalate overdue ones, deliver stragglers."""
    result = cadence.sweep_updates()
    result["delivered"] = services.deliver_undelivered()
    return result
