"""Celery tasks of the foundation: doorbells that call one service each.

The services are imported in the task bodies: ``itsm.core.notifications`` enqueues these tasks,
so a module-level import here would be a loop (HackSoft's convention).
"""

from celery import shared_task


@shared_task(name="core.deliver_notification", acks_late=True, reject_on_worker_lost=True)
def deliver_notification(notification_id: int) -> bool:
    """Send one email/webhook notification; retries are scheduled on the row itself."""
    from .notifications import deliver_notification as deliver

    return deliver(notification_id)


@shared_task(name="core.deliver_pending_notifications", acks_late=True)
def deliver_pending_notifications() -> int:
    from .notifications import deliver_pending

    return deliver_pending()
