"""Celery tasks of the foundation: doorbells that call one service each.

``itsm.core.notifications`` enqueues the delivery task by its name (``DELIVERY_TASK``), so
nothing the tasks import imports them back.
"""

from celery import shared_task

from . import notifications


@shared_task(name=notifications.DELIVERY_TASK, acks_late=True, reject_on_worker_lost=True)
def deliver_notification(notification_id: int) -> bool:
    """Send one email/webhook notification; retries are scheduled on the row itself."""
    return notifications.deliver_notification(notification_id)


@shared_task(name=notifications.BATCH_TASK, acks_late=True, reject_on_worker_lost=True)
def deliver_notifications(notification_ids: list[int]) -> int:
    """Send a batch of email rows (a status update to many subscribers); how many were sent."""
    return sum(notifications.deliver_notification(pk) for pk in notification_ids)


@shared_task(name="core.deliver_pending_notifications", acks_late=True)
def deliver_pending_notifications() -> int:
    return notifications.deliver_pending()


@shared_task(name="core.worker_heartbeat", acks_late=True)
def worker_heartbeat() -> float:
    """Beat-scheduled: records that a worker ran a task now (docs/monitoring.md, WorkerDown)."""
    from .monitoring.worker import beat_heartbeat

    return beat_heartbeat()
