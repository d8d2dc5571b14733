"""Notifying people: rows written in the caller's transaction, delivery after commit.

Use cases:
- ``notify(recipients, key=…, title=…, teams=…)``: for each person an in-app row (the bell)
  and, unless they opted out, an email row; for each team with a chat webhook a webhook row.
  Each row is unique per (event key, addressee, channel), so notifying twice about one event is
  a no-op. Email and webhook rows are delivered by a Celery task enqueued with
  ``transaction.on_commit`` (DESIGN.md principle 2).
- ``deliver_notification(notification_id)``: send one email/webhook row, at most once: the row
  is locked (``skip_locked``: a duplicate task skips it) and marked sent in the same
  transaction. A failure is recorded (attempts, error) and retried with backoff; after the
  last attempt the row is marked failed. Other rows are never blocked by a failing one.
- ``deliver_pending()``: the catch-up sweep for deliveries whose task never ran (broker down,
  worker killed) or whose retry is due; runs from Celery beat.
- ``mark_read(user, ids)``, ``unread_count(user)``, ``set_preferences(user, email=…)``.
- ``render(notification)``: its (title, body) in the active language. A notification stores a
  message code and parameters, not sentences (issue 14 §5): each app lists its messages in a
  ``notification_messages`` module (``MESSAGES = {code: function(params) -> (title, body)}``),
  so the bell shows them in the reader's language and emails go out in the recipient's.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import timedelta
from importlib import import_module

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.module_loading import module_has_submodule

from .models import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationPreference,
    TeamWebhook,
)

logger = logging.getLogger(__name__)

# Seconds to wait before attempt 2, 3, …; the last attempt failing marks the row failed.
# Short enough to stay far below the broker's visibility timeout (DESIGN.md principle 2).
DEFAULT_RETRY_DELAYS = (10, 60, 300)
WEBHOOK_TIMEOUT_SECONDS = 5
EARLY_OK = timedelta(seconds=1)


def retry_delays() -> tuple[int, ...]:
    return tuple(getattr(settings, "NOTIFICATION_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))


_messages: dict | None = None


def messages() -> dict:
    """Every app's message renderers: ``{code: function(params) -> (title, body)}``."""
    global _messages
    if _messages is None:
        found: dict = {}
        for config in apps.get_app_configs():
            if module_has_submodule(config.module, "notification_messages"):
                module = import_module(f"{config.name}.notification_messages")
                found.update(getattr(module, "MESSAGES", {}))
        _messages = found
    return _messages


def render_message(message: str, params: dict) -> tuple[str, str]:
    """(title, body) of a message code in the active language."""
    title, body = messages()[message](params or {})
    return str(title)[:200], str(body or "")


def render(notification: Notification) -> tuple[str, str]:
    """A notification's (title, body) in the active language; rows written before messages had
    codes (or with an unknown code) show the text they were stored with."""
    if notification.message and notification.message in messages():
        try:
            return render_message(notification.message, notification.params)
        except (KeyError, TypeError, ValueError):
            logger.warning(
                "notification %s: cannot render %s", notification.pk, notification.message
            )
    return notification.title, notification.body


def language_of(user) -> str:
    return (
        (getattr(user, "language", "") or settings.LANGUAGE_CODE)
        if user
        else settings.LANGUAGE_CODE
    )


def notify(
    recipients: Iterable,
    *,
    key: str,
    message: str = "",
    params: dict | None = None,
    title: str = "",
    body: str = "",
    url: str = "",
    teams: Iterable = (),
    urgency: str = "",
    actor=None,
    thread: str = "",
) -> list[Notification]:
    """Notify each person (and each team's webhook) once per ``key``.

    Say what happened with ``message`` (a code from an app's ``notification_messages``) and its
    JSON ``params``; each reader then sees it in their own language. ``title``/``body`` are for
    text that has no code. Returns the in-app notifications created now (empty when everyone
    was already notified).
    """
    params = params or {}
    if not (message or title):
        raise ValueError("a notification needs a message code or a title")
    key, title, url = key[:200], title[:200], url[:300]
    # Nobody is notified of their own action.
    actor_pk = getattr(actor, "pk", None)
    people = {u.pk: u for u in recipients if u is not None and u.is_active and u.pk != actor_pk}
    opted_out = set(
        NotificationPreference.objects.filter(user_id__in=people, email=False).values_list(
            "user_id", flat=True
        )
    )
    rows = []
    for user in people.values():
        rows.append(Notification(recipient=user, channel=NotificationChannel.IN_APP))
        if user.email and user.pk not in opted_out:
            rows.append(Notification(recipient=user, channel=NotificationChannel.EMAIL))
    team_ids = {t.pk for t in teams if t is not None}
    for hook in TeamWebhook.objects.filter(team_id__in=team_ids, is_active=True):
        rows.append(Notification(team_id=hook.team_id, channel=NotificationChannel.WEBHOOK))
    created = []
    for row in rows:
        row.key, row.title, row.body, row.url = key, title, body, url
        row.message, row.params = message, params
        if message:
            # The stored text is only the fallback (admin, search, an unknown code later):
            # written in the addressee's language; display and delivery render anew.
            with translation.override(language_of(row.recipient if row.recipient_id else None)):
                row.title, row.body = render_message(message, params)
        if row.channel == NotificationChannel.IN_APP:
            row.status, row.sent_at = DeliveryStatus.SENT, timezone.now()
        else:
            row.next_attempt_at = timezone.now()
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            continue  # already notified about this event on this channel
        created.append(row)
        if row.channel != NotificationChannel.IN_APP:
            transaction.on_commit(lambda pk=row.pk: _enqueue_delivery(pk))
    return [n for n in created if n.channel == NotificationChannel.IN_APP]


# After the broker refused a message, skip it for a while: a request filing an incident must
# not wait for a dead Redis once per recipient; the pending sweep delivers those rows later.
BROKER_BACKOFF_SECONDS = 15
# The delivery task (itsm.core.tasks), enqueued by name: it runs ``deliver_notification`` below,
# so importing it here would be an import loop.
DELIVERY_TASK = "core.deliver_notification"
_broker_down_until = 0.0


def _enqueue_delivery(pk: int, countdown: int | None = None) -> None:
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    try:
        current_app.tasks[DELIVERY_TASK].apply_async((pk,), countdown=countdown, retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down: the pending sweep delivers it later
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning(
            "notification %s: broker unavailable (%s), left for the pending sweep", pk, exc
        )


def deliver_notification(notification_id: int, *, now=None) -> bool:
    """Send one email or webhook row; True when it was sent now. Safe to run twice or
    concurrently: the row is locked and skipped by a second runner, and a sent or failed row is
    never sent again. A retry that is not yet due is left for later."""
    now = now or timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient", "team")
            .filter(pk=notification_id, status=DeliveryStatus.PENDING)
            .exclude(channel=NotificationChannel.IN_APP)
            .first()
        )
        if notification is None:
            return False
        # A retry's message may arrive a moment before its time (clock skew between hosts).
        if notification.next_attempt_at and notification.next_attempt_at > now + EARLY_OK:
            return False
        notification.attempts += 1
        try:
            _send(notification)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the row
            notification.error = f"{type(exc).__name__}: {exc}"[:2000]
            delays = retry_delays()
            if notification.attempts > len(delays):
                notification.status = DeliveryStatus.FAILED
                notification.next_attempt_at = None
                logger.warning("notification %s failed for good: %s", notification.pk, exc)
            else:
                delay = delays[notification.attempts - 1]
                notification.next_attempt_at = now + timedelta(seconds=delay)
                pk = notification.pk
                transaction.on_commit(lambda: _enqueue_delivery(pk, countdown=delay))
            notification.save(update_fields=["attempts", "error", "status", "next_attempt_at"])
            return False
        notification.status = DeliveryStatus.SENT
        notification.sent_at = timezone.now()
        notification.next_attempt_at = None
        notification.error = ""
        notification.save(
            update_fields=["attempts", "error", "status", "sent_at", "next_attempt_at"]
        )
    return True


def _absolute(url: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{url}" if url.startswith("/") else url


def _send(notification: Notification) -> None:
    if notification.channel == NotificationChannel.EMAIL:
        if not notification.recipient or not notification.recipient.email:
            raise ValueError("recipient has no email address")
        link = _absolute(notification.url) if notification.url else ""
        # Emails go out in the recipient's language (their setting, else the portal default).
        with translation.override(language_of(notification.recipient)):
            title, body = render(notification)
        send_mail(
            subject=f"[ITSM] {title}",
            message="\n\n".join(p for p in (body, link) if p),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.recipient.email],
        )
    elif notification.channel == NotificationChannel.WEBHOOK:
        hook = TeamWebhook.objects.filter(team_id=notification.team_id, is_active=True).first()
        if hook is None:
            raise ValueError("the team has no active webhook")
        post_webhook(hook, notification)


def webhook_body(hook: TeamWebhook, notification: Notification) -> dict:
    """The JSON posted to a team's webhook: a generic event, or a Slack incoming-webhook body."""
    link = _absolute(notification.url) if notification.url else ""
    # A team channel has no language of its own: the portal's default.
    with translation.override(settings.LANGUAGE_CODE):
        title, body = render(notification)
    if hook.format == TeamWebhook.Format.SLACK:
        text = f"*{title}*"
        if body:
            text += f"\n{body}"
        if link:
            text += f"\n<{link}|{link}>"
        return {"text": text}
    return {
        "event": notification.key,
        "message": notification.message,
        "params": notification.params,
        "title": title,
        "body": body,
        "url": link,
        "team": hook.team.slug,
        "created_at": notification.created_at.isoformat(),
    }


def post_webhook(hook: TeamWebhook, notification: Notification) -> None:
    data = json.dumps(webhook_body(hook, notification), ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is an admin-configured http(s) URL
        hook.url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            # Receivers can drop a redelivery by this key (a crash after the POST, before commit).
            "Idempotency-Key": f"{notification.key}:{notification.team_id}",
            "User-Agent": "itsm-portal",
        },
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
        if response.status >= 300:
            raise urllib.error.HTTPError(hook.url, response.status, "", response.headers, None)


def deliver_pending(limit: int = 200, *, now=None) -> int:
    """Deliver email/webhook rows whose task never ran or whose retry is due."""
    now = now or timezone.now()
    ids = list(
        Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .exclude(channel=NotificationChannel.IN_APP)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(deliver_notification(pk, now=now) for pk in ids)


def inbox(user):
    return Notification.objects.filter(recipient=user, channel=NotificationChannel.IN_APP)


def unread_count(user) -> int:
    return inbox(user).filter(read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    qs = inbox(user).filter(read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


def set_preferences(user, *, email: bool) -> NotificationPreference:
    pref, _ = NotificationPreference.objects.update_or_create(user=user, defaults={"email": email})
    return pref
