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

import functools
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone, translation
from django.utils.module_loading import module_has_submodule
from django.utils.translation import gettext as _

from . import chat
from . import notification_rules as rules
from .bulk import copy_row, insert_rows
from .models import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationPreference,
    NotificationRule,
    TeamWebhook,
    Urgency,
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
    text that has no code. ``actor`` (whoever caused it) is never notified. With an ``urgency``
    (high: P1/P2, low: P3/P4) each person's rules decide the channels and their delays, quiet
    hours hold low-urgency messages for a digest, and messages of one ``thread`` (an incident
    number) within a short window are merged; without one, in-app and email go at once.
    Returns the in-app notifications created now (empty when everyone was notified already).
    """
    notice = Notice.of(
        recipients,
        actor=actor,
        teams=teams,
        key=key,
        message=message,
        params=params or {},
        title=title,
        body=body,
        url=url,
        urgency=urgency,
        thread=thread,
    )
    now = timezone.now()
    people = notice.people
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=people)}
    plans = rules.rules_for(people, urgency) if urgency else {}
    team_ids = {t.pk for t in notice.teams}
    hooks = list(TeamWebhook.objects.filter(team_id__in=team_ids, is_active=True))
    rows = _rows(notice, preferences=preferences, plans=plans, hooks=hooks, now=now, rendered={})
    created = _save(rows, merging=bool(urgency), now=now)
    _enqueue_after_commit(created, now)
    return [n for n in created if n.channel == NotificationChannel.IN_APP]


@dataclass
class Notice:
    """One ``notify`` call for ``notify_many``: ``people`` ({pk: user}, already filtered),
    ``teams`` and the message; ``created`` holds its in-app rows once written."""

    people: dict
    key: str
    message: str = ""
    params: dict = field(default_factory=dict)
    title: str = ""
    body: str = ""
    url: str = ""
    teams: list = field(default_factory=list)
    urgency: str = ""
    thread: str = ""
    # What a row carries for the reader to act on (a page's acknowledgement link), stored with
    # ``params`` but no part of the text: a batch renders the text of ``params`` once.
    links: dict = field(default_factory=dict)
    created: list = field(default_factory=list)

    @classmethod
    def of(cls, recipients: Iterable, *, actor=None, teams: Iterable = (), **fields) -> Notice:
        """``notify``'s arguments as a notice (the actor is never notified)."""
        actor_pk = getattr(actor, "pk", None)
        people = {u.pk: u for u in recipients if u is not None and u.is_active and u.pk != actor_pk}
        if not (fields.get("message") or fields.get("title")):
            raise ValueError("a notification needs a message code or a title")
        return cls(people, teams=[t for t in teams if t is not None], **fields)


@functools.cache
def _prototype() -> Notification:
    """What each notice's rows start as a copy of (``bulk.copy_row``)."""
    return Notification()


def _rows(
    notice: Notice, *, preferences: dict, plans: dict, hooks, now, rendered: dict
) -> list[Notification]:
    """The unsaved rows of one notice: in-app + the channels of each person's rules, and the
    webhook of each of its teams. ``rendered``: the texts rendered so far, by language,
    message and ``params`` (the notices of a batch may share theirs)."""
    message, urgency = notice.message, notice.urgency
    prototype = copy_row(
        _prototype(),
        key=notice.key[:200],
        title=notice.title[:200],
        body=notice.body,
        url=notice.url[:300],
        message=message,
        params={**notice.params, **notice.links} if notice.links else notice.params,
        urgency=urgency,
        thread=notice.thread[:40],
        created_at=now,
    )
    rows = []
    for user in notice.people.values():
        person = {"related": {"recipient": user}}
        rows.append(copy_row(prototype, **person, channel=NotificationChannel.IN_APP))
        preference = preferences.get(user.pk)
        for channel, delay in plans.get(user.pk, [(NotificationChannel.EMAIL, 0)]):
            if not _reachable(user, preference, channel):
                continue
            row = copy_row(prototype, **person, channel=channel)
            row.next_attempt_at = now + timedelta(minutes=delay)
            if urgency == Urgency.LOW:
                row.held_until = rules.quiet_until(preference, row.next_attempt_at)
                row.next_attempt_at = row.held_until or row.next_attempt_at
            rows.append(row)
    team_ids = {t.pk for t in notice.teams}
    for hook in hooks:
        if hook.team_id in team_ids:
            rows.append(
                copy_row(prototype, team_id=hook.team_id, channel=NotificationChannel.WEBHOOK)
            )
    for row in rows:
        if message:
            # The stored text is only the fallback (admin, search, an unknown code later):
            # written in the addressee's language; display and delivery render anew.
            language = language_of(row.recipient if row.recipient_id else None)
            text = (language, message, id(notice.params))
            if text not in rendered:
                with translation.override(language):
                    rendered[text] = render_message(message, notice.params)
            row.title, row.body = rendered[text]
        if row.channel == NotificationChannel.IN_APP:
            row.status, row.sent_at = DeliveryStatus.SENT, now
        elif row.next_attempt_at is None:
            row.next_attempt_at = now
    return rows


def notify_many(
    notices: list[Notice], *, new_events: bool = False, new_threads: bool = False
) -> list[Notice]:
    """``notify`` for many events at once (an escalation sweep's batch): the preferences, rules
    and webhooks of everyone concerned are read once, and the rows written in one INSERT — one
    by one only where a burst may merge them or some addressee was notified already. Sets each
    notice's ``created`` (its in-app rows written now) and returns the notices.

    ``new_events``: nobody can have been notified about these events (their keys name steps
    inserted in this transaction), so no earlier rows are looked for and none can collide.
    ``new_threads``: nor about anything in their threads (a new incident's report steps), so
    no burst of theirs is open: a burst's first row goes as its rule says and the later ones
    ride on it, without a query."""
    now = timezone.now()
    everyone = {pk: user for notice in notices for pk, user in notice.people.items()}
    preferences = _preferences(everyone)
    plans: dict[str, dict] = {}
    for urgency in {notice.urgency for notice in notices if notice.urgency}:
        users = {pk for notice in notices if notice.urgency == urgency for pk in notice.people}
        plans[urgency] = rules.rules_for(users, urgency)
    team_ids = {t.pk for notice in notices for t in notice.teams}
    hooks = list(TeamWebhook.objects.filter(team_id__in=team_ids, is_active=True))
    rows, owner, rendered = [], {}, {}
    for notice in notices:
        mine = _rows(
            notice,
            preferences=preferences,
            plans=plans.get(notice.urgency, {}),
            hooks=hooks,
            now=now,
            rendered=rendered,
        )
        for row in mine:
            owner[id(row)] = notice
        rows += mine
    created = _save_many(rows, now=now, new_events=new_events, new_threads=new_threads)
    _enqueue_after_commit(created, now)
    for notice in notices:
        notice.created = []
    for row in created:
        if row.channel == NotificationChannel.IN_APP:
            owner[id(row)].created.append(row)
    return notices


def _preferences(people: dict) -> dict:
    """{user pk: preference} of ``people`` ({pk: user}); those read with their preference
    (``select_related``: ``incidents.paging.targets_of``) are not asked for again."""
    found, unknown = {}, []
    cached = NotificationPreference.user.field.remote_field  # the user's reverse accessor
    for pk, user in people.items():
        if cached.is_cached(user):
            if (preference := cached.get_cached_value(user)) is not None:
                found[pk] = preference
        else:
            unknown.append(pk)
    if unknown:
        found |= {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=unknown)}
    return found


def _addressee(row: Notification) -> tuple:
    return (row.key, row.recipient_id, row.team_id, row.address, row.channel)


def _save_many(rows: list[Notification], *, now, new_events, new_threads) -> list[Notification]:
    """Write the rows whose addressee was not notified about their event yet; returns those
    written now. Rows a burst may merge (urgent, personal, threaded, within the window) are
    saved one by one, in order, as ``_save`` does, except those that open their burst
    (``rules.burst_openers``); all others in one INSERT. ``new_events``, ``new_threads``: as
    ``notify_many``."""
    done = set()
    if not new_events:
        done = set(
            Notification.objects.filter(key__in={r.key for r in rows}).values_list(
                "key", "recipient_id", "team_id", "address", "channel"
            )
        )
    fresh = []
    for row in rows:  # skips a team named twice for one event too
        if _addressee(row) not in done:
            done.add(_addressee(row))
            fresh.append(row)
    window = rules.burst_window() > timedelta(0)
    merging = [
        r
        for r in fresh
        if window
        and r.urgency
        and r.thread
        and r.held_until is None
        and r.channel in rules.PERSONAL_CHANNELS
    ]
    if new_threads:
        return _write_new(fresh, merging)
    openers = rules.burst_openers(merging, now)
    one_by_one = [r for r in merging if id(r) not in openers]
    later = {id(r) for r in one_by_one}
    together = [r for r in fresh if id(r) not in later]
    if new_events:
        insert_rows(together)  # nothing to collide with: no savepoint
        return together + _write([], one_by_one, now=now)
    return _write(together, one_by_one, now=now)


def _write_new(rows: list[Notification], merging: list[Notification]) -> list[Notification]:
    """All ``rows`` (new events in new threads) in one INSERT; of ``merging``, the first of a
    person, channel and thread goes as its rule says and the later ones ride on it (what
    ``rules.merge_into_burst`` gives), inserted after it."""
    openers, riders = {}, []
    for row in merging:
        burst = (row.recipient_id, row.channel, row.thread)
        if burst in openers:
            row.status, row.merged_into = DeliveryStatus.MERGED, openers[burst]
            row.next_attempt_at = None
            riders.append(row)
        else:
            openers[burst] = row
    riding = {id(row) for row in riders}
    insert_rows([row for row in rows if id(row) not in riding])
    insert_rows(riders)
    return rows


def _save(rows: list[Notification], *, merging: bool, now) -> list[Notification]:
    """Write the rows not written yet for their event; returns those written now. Urgent
    personal messages merge into a burst one by one; the others go in one INSERT (a thousand
    subscribers of an update), or one by one when some addressee was notified already."""
    merge = [r for r in rows if merging and r.channel in rules.PERSONAL_CHANNELS]
    together = [r for r in rows if not (merging and r.channel in rules.PERSONAL_CHANNELS)]
    return _write(together, merge, now=now)


def _write(together: list, one_by_one: list, *, now) -> list[Notification]:
    """``together`` in one INSERT (one by one when some row was written meanwhile by another
    transaction), then ``one_by_one``, urgent personal rows merging into their burst; a row
    whose addressee was notified about its event already is skipped. Returns those written."""
    saved = []
    if together:
        try:
            with transaction.atomic():
                insert_rows(together)
            saved += together
        except IntegrityError:
            one_by_one = together + one_by_one
    for row in one_by_one:
        try:
            with transaction.atomic():
                if row.urgency and row.channel in rules.PERSONAL_CHANNELS:
                    rules.merge_into_burst(row, now)
                row.save()
        except IntegrityError:
            continue  # already notified about this event on this channel
        saved.append(row)
    return saved


def _enqueue_after_commit(rows: list[Notification], now) -> None:
    """After the commit, one delivery task per 100 pending rows due at the same moment. Far-off
    deliveries wait in the indexed column for the sweep, not in the broker (Redis redelivers a
    message unacknowledged past its visibility timeout)."""
    due: dict[int, list[int]] = {}
    for row in rows:
        if row.status == DeliveryStatus.PENDING:
            delay = max(0, int((row.next_attempt_at - now).total_seconds()))
            if delay <= MAX_COUNTDOWN_SECONDS:
                due.setdefault(delay, []).append(row.pk)
    for delay, pks in due.items():
        for start in range(0, len(pks), BATCH_SIZE):
            chunk = pks[start : start + BATCH_SIZE]
            transaction.on_commit(lambda c=chunk, d=delay: _enqueue_batch(c, d or None))


def notify_addresses(
    addresses: Iterable[tuple[str, str, dict]],
    *,
    key: str,
    message: str,
    params: dict | None = None,
    url: str = "",
) -> int:
    """Email each ``(address, language, extra params)`` once per ``key``: people without an
    account (status page subscribers). Written in bulk (a thousand addresses is one INSERT and
    ten delivery tasks); delivered like every email row (retries, the pending sweep, at most
    once). Returns how many rows were written now (addresses already emailed are skipped)."""
    key, url, params = key[:200], url[:300], params or {}
    now = timezone.now()
    done = set(
        Notification.objects.filter(key=key, channel=NotificationChannel.EMAIL)
        .exclude(address="")
        .values_list("address", flat=True)
    )
    rows = []
    for address, language, extra in addresses:
        if not address or address in done:
            continue
        done.add(address)
        row_params = {**params, **extra}
        with translation.override(language or settings.LANGUAGE_CODE):
            title, body = render_message(message, row_params)
        rows.append(
            Notification(
                address=address,
                language=language,
                channel=NotificationChannel.EMAIL,
                key=key,
                message=message,
                params=row_params,
                title=title,
                body=body,
                url=url,
                created_at=now,
                next_attempt_at=now,
            )
        )
    with transaction.atomic():
        Notification.objects.bulk_create(rows, batch_size=500)
        _enqueue_after_commit(rows, now)
    return len(rows)


def _reachable(user, preference, channel: str) -> bool:
    if channel == NotificationChannel.EMAIL:
        return bool(user.email) and (preference is None or preference.email)
    if channel == NotificationChannel.CHAT:
        return preference is not None and bool(preference.chat_webhook_url)
    return False


def cancel_pending(*key_prefixes: str) -> int:
    """Drop the deliveries not sent yet (delayed, held, merged) of the events whose key starts
    with one of ``key_prefixes`` (a page acknowledged: its later email and chat are no longer
    needed). A message carrying merged messages of other events hands them to the next of them.
    """
    if not key_prefixes:
        return 0
    matches = Q()
    for prefix in key_prefixes:
        matches |= Q(key__startswith=prefix)
    with transaction.atomic():
        doomed = list(
            Notification.objects.select_for_update()
            .filter(matches, status__in=[DeliveryStatus.PENDING, DeliveryStatus.MERGED])
            .exclude(channel=NotificationChannel.IN_APP)
        )
        ids = [n.pk for n in doomed]
        carriers = [n for n in doomed if n.status == DeliveryStatus.PENDING]
        riders_of: dict[int, list[Notification]] = {}
        if carriers:
            for rider in (
                Notification.objects.filter(merged_into__in=carriers, status=DeliveryStatus.MERGED)
                .exclude(pk__in=ids)
                .order_by("created_at", "id")
            ):
                riders_of.setdefault(rider.merged_into_id, []).append(rider)
        for carrier in carriers:
            riders = riders_of.get(carrier.pk)
            if riders:
                heir, rest = riders[0], riders[1:]
                Notification.objects.filter(pk=heir.pk).update(
                    status=DeliveryStatus.PENDING,
                    merged_into=None,
                    next_attempt_at=carrier.next_attempt_at,
                )
                Notification.objects.filter(pk__in=[r.pk for r in rest]).update(merged_into=heir)
        return Notification.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.CANCELLED, next_attempt_at=None
        )


# After the broker refused a message, skip it for a while: a request filing an incident must
# not wait for a dead Redis once per recipient; the pending sweep delivers those rows later.
BROKER_BACKOFF_SECONDS = 15
# Deliveries due later than this are left to the pending sweep (``deliver_pending``, every 30 s).
MAX_COUNTDOWN_SECONDS = 15 * 60
# The delivery task (itsm.core.tasks), enqueued by name: it runs ``deliver_notification`` below,
# so importing it here would be an import loop.
DELIVERY_TASK = "core.deliver_notification"
BATCH_TASK = "core.deliver_notifications"
BATCH_SIZE = 100
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


def _enqueue_batch(pks: list[int], countdown: int | None = None) -> None:
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    try:
        current_app.tasks[BATCH_TASK].apply_async((pks,), countdown=countdown, retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down: the pending sweep delivers them later
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning("%s notifications: broker unavailable (%s)", len(pks), exc)


def deliver_notification(notification_id: int, *, now=None) -> bool:
    """Send one email or webhook row; True when it was sent now. Safe to run twice or
    concurrently: the row is locked and skipped by a second runner, and a sent or failed row is
    never sent again. A retry that is not yet due is left for later."""
    now = now or timezone.now()
    with transaction.atomic():
        held_for = (
            Notification.objects.filter(pk=notification_id, held_until__isnull=False)
            .values_list("recipient_id", flat=True)
            .first()
        )
        if held_for is not None:
            # One digest per person: the runners of that person's held rows queue here, so the
            # first sends them all and the others find their rows sent.
            list(NotificationPreference.objects.select_for_update().filter(user_id=held_for))
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
        riders = _riders(notification, now)
        notification.attempts += 1
        try:
            _send(notification, riders)
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
        # The messages it carried went with it (merged ones keep their status, digests are sent).
        Notification.objects.filter(pk__in=[r.pk for r in riders]).update(
            sent_at=notification.sent_at,
            next_attempt_at=None,
            status=Case(
                When(status=DeliveryStatus.PENDING, then=Value(DeliveryStatus.SENT)),
                default=F("status"),
            ),
        )
    return True


def _absolute(url: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{url}" if url.startswith("/") else url


def _riders(notification: Notification, now) -> list[Notification]:
    """What goes out with ``notification``: the messages merged into it (a burst), or, for a
    message held by quiet hours, every held message of that person and channel now due (one
    digest). Locked, so a concurrent delivery does not send them twice."""
    if notification.held_until is not None:
        return list(
            Notification.objects.select_for_update()
            .filter(
                recipient_id=notification.recipient_id,
                channel=notification.channel,
                status=DeliveryStatus.PENDING,
                held_until__isnull=False,
                next_attempt_at__lte=now + EARLY_OK,
            )
            .exclude(pk=notification.pk)
            .order_by("created_at", "id")
        )
    return list(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(merged_into=notification, status=DeliveryStatus.MERGED)
        .order_by("created_at", "id")
    )


def compose(notification: Notification, riders=()) -> chat.Card:
    """What a delivery says, in the active language: one message, a burst ("3 updates on
    INC-000123") or a quiet-hours digest, with its links made absolute."""
    title, body = render(notification)
    link = _absolute(notification.url) if notification.url else ""
    ack = notification.params.get("ack_url", "") if isinstance(notification.params, dict) else ""
    if riders:
        items = [notification, *riders]
        if notification.held_until is not None:
            title = _("%(count)s notifications held during your quiet hours") % {
                "count": len(items)
            }
        else:
            title = _("%(count)s updates on %(thread)s") % {
                "count": len(items),
                "thread": notification.thread,
            }
        body = "\n".join(
            f"- {render(item)[0]}" + (f"  {_absolute(item.url)}" if item.url else "")
            for item in items
        )
        # The buttons follow the latest message (its page is the one still waiting).
        latest = items[-1]
        ack = latest.params.get("ack_url", "") if isinstance(latest.params, dict) else ""
        link = _absolute(latest.url) if latest.url else ""
    return chat.Card(
        title=title,
        body=body,
        link=link,
        ack_link=_absolute(ack) if ack else "",
        urgency=notification.urgency,
        event=notification.key,
        message=notification.message,
        params=notification.params,
        created_at=notification.created_at.isoformat(),
        team=notification.team.slug if notification.team_id else "",
    )


def _send(notification: Notification, riders=()) -> None:
    if notification.channel == NotificationChannel.EMAIL:
        address = notification.address or getattr(notification.recipient, "email", "")
        if not address:
            raise ValueError("recipient has no email address")
        # Emails go out in the recipient's language (their setting, else the portal default).
        language = notification.language or language_of(notification.recipient)
        with translation.override(language):
            card = compose(notification, riders)
            ack = _("Acknowledge: %(link)s") % {"link": card.ack_link} if card.ack_link else ""
        unsubscribe = _absolute(notification.params.get("unsubscribe_url", ""))
        headers = (
            # RFC 8058 one-click unsubscribe: mail clients show their own button.
            {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
            if unsubscribe
            else {}
        )
        EmailMessage(
            subject=f"[ITSM] {card.title}",
            body="\n\n".join(p for p in (card.body, card.link, ack) if p),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers=headers,
        ).send()
    elif notification.channel == NotificationChannel.CHAT:
        preference = NotificationPreference.objects.filter(
            user_id=notification.recipient_id
        ).first()
        if preference is None or not preference.chat_webhook_url:
            raise ValueError("the person has no chat webhook")
        with translation.override(language_of(notification.recipient)):
            data = chat.body(preference.chat_format, compose(notification, riders))
        post_json(preference.chat_webhook_url, data, idempotency_key=_idempotency(notification))
    elif notification.channel == NotificationChannel.WEBHOOK:
        hook = TeamWebhook.objects.filter(team_id=notification.team_id, is_active=True).first()
        if hook is None:
            raise ValueError("the team has no active webhook")
        post_webhook(hook, notification)


def _idempotency(notification: Notification) -> str:
    return f"{notification.key}:{notification.team_id or notification.recipient_id}"


def webhook_body(hook: TeamWebhook, notification: Notification) -> dict:
    """The JSON posted to a team's webhook, in the hook's format (``itsm.core.chat``)."""
    # A team channel has no language of its own: the portal's default.
    with translation.override(settings.LANGUAGE_CODE):
        return chat.body(hook.format, compose(notification))


def post_webhook(hook: TeamWebhook, notification: Notification) -> None:
    post_json(
        hook.url, webhook_body(hook, notification), idempotency_key=_idempotency(notification)
    )


def post_json(url: str, data: dict, *, idempotency_key: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - an admin- or user-configured http(s) URL
        url,
        data=json.dumps(data, ensure_ascii=False).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            # Receivers can drop a redelivery by this key (a crash after the POST, before commit).
            "Idempotency-Key": idempotency_key,
            "User-Agent": "itsm-portal",
        },
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
        if response.status >= 300:
            raise urllib.error.HTTPError(url, response.status, "", response.headers, None)


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
    pref, _created = NotificationPreference.objects.update_or_create(
        user=user, defaults={"email": email}
    )
    return pref


SETTING_FIELDS = (
    "email",
    "quiet_start",
    "quiet_end",
    "time_zone",
    "chat_webhook_url",
    "chat_format",
)


def notification_settings(user) -> dict:
    """A person's settings as the form and the API show them (defaults filled in)."""
    preference = NotificationPreference.objects.filter(user=user).first() or (
        NotificationPreference(user=user)
    )
    plans = {u: rules.rules_for([user.pk], u)[user.pk] for u in Urgency.values}
    plans = {u: [(NotificationChannel.IN_APP, 0), *rows] for u, rows in plans.items()}
    return {
        **{name: getattr(preference, name) for name in SETTING_FIELDS},
        "rules": [
            {"urgency": urgency, "channel": channel, "delay_minutes": delay}
            for urgency, rows in plans.items()
            for channel, delay in rows
        ],
    }


@transaction.atomic
def save_notification_settings(user, *, rules_list: list[dict] | None = None, **fields):
    """Save ``user``'s preferences and (when given) replace their rules; audited.
    ``rules_list``: ``[{"urgency", "channel", "delay_minutes"}]`` (in-app is always at once)."""
    from .audit import record_event

    preference, _created = NotificationPreference.objects.get_or_create(user=user)
    changed = {k: v for k, v in fields.items() if k in SETTING_FIELDS}
    for name, value in changed.items():
        setattr(preference, name, value if value is not None or name.startswith("quiet") else "")
    preference.full_clean(exclude=["user"])
    preference.save()
    if rules_list is not None:
        seen = set()
        for rule in rules_list:
            pair = (rule["urgency"], rule["channel"])
            if pair in seen:
                raise ValidationError({"rules": [_("One rule per urgency and channel.")]})
            seen.add(pair)
        # In the portal at once is a rule of its own: it keeps an urgency whose other channels
        # are all off from falling back to the defaults.
        rules_list = [r for r in rules_list if r["channel"] != NotificationChannel.IN_APP] + [
            {"urgency": u, "channel": NotificationChannel.IN_APP, "delay_minutes": 0}
            for u in Urgency.values
        ]
        NotificationRule.objects.filter(user=user).delete()
        NotificationRule.objects.bulk_create(
            NotificationRule(user=user, **rule) for rule in rules_list
        )
    record_event(
        user,
        action="notification_settings",
        actor=user,
        data={
            **{k: str(v) for k, v in changed.items() if k != "chat_webhook_url"},
            "chat_webhook": bool(preference.chat_webhook_url),
            **({"rules": rules_list} if rules_list is not None else {}),
        },
    )
    return preference
