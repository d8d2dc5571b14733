"""Notifying people: rows written in the caller's transaction, email delivered after commit.

Use cases:
- ``notify(recipients, key=…, title=…)``: one Notification per recipient, idempotent per key;
  delivery is a Celery task enqueued with ``transaction.on_commit`` (DESIGN.md principle 2).
- ``deliver_notification(notification_id)``: send the email once (``emailed_at`` under a row lock).
- ``mark_read(user, ids)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)


def notify(
    recipients: Iterable, *, key: str, title: str, body: str = "", url: str = ""
) -> list[Notification]:
    """Notify each recipient once per ``key``; returns the notifications created now."""
    created = []
    for user in {u.pk: u for u in recipients if u is not None and u.is_active}.values():
        try:
            with transaction.atomic():
                created.append(
                    Notification.objects.create(
                        recipient=user, key=key[:200], title=title[:200], body=body, url=url[:300]
                    )
                )
        except IntegrityError:
            continue  # already notified about this event
    for notification in created:
        if notification.recipient.email:
            transaction.on_commit(lambda pk=notification.pk: _enqueue_delivery(pk))
    return created


def _enqueue_delivery(pk: int) -> None:
    from .tasks import deliver_notification

    try:
        deliver_notification.delay(pk)
    except Exception:  # noqa: BLE001 - broker down: the pending sweep delivers it later
        logger.warning("notification %s: broker unavailable, left for the pending sweep", pk)


def deliver_notification(notification_id: int) -> bool:
    """Email a notification once; safe to run twice or concurrently."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("recipient")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if notification is None or not notification.recipient.email:
            return False
        link = f"{settings.SITE_URL.rstrip('/')}{notification.url}" if notification.url else ""
        send_mail(
            subject=f"[ITSM] {notification.title}",
            message="\n\n".join(p for p in (notification.body, link) if p),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.recipient.email],
        )
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    return True


def deliver_pending(limit: int = 200) -> int:
    """Deliver notifications whose email was not sent (broker was down, worker died)."""
    ids = list(
        Notification.objects.filter(emailed_at__isnull=True, recipient__email__gt="")
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(deliver_notification(pk) for pk in ids)


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())
