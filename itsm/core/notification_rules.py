"""How a notification reaches one person (issue 16 §5): their rules per urgency (which channels,
after how many minutes), quiet hours for low urgency (held, then one digest), and burst merging
(several messages about one thread within a short window become one).

Used by ``itsm.core.notifications.notify`` while it writes the rows; pure decisions plus the
one query that finds a burst's carrier.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings

from .models import (
    DEFAULT_RULES,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationRule,
    Urgency,
)

DEFAULT_BURST_SECONDS = 60


def burst_window() -> timedelta:
    return timedelta(seconds=getattr(settings, "NOTIFICATION_BURST_SECONDS", DEFAULT_BURST_SECONDS))


def rules_for(user_ids, urgency: str) -> dict[int, list[tuple[str, int]]]:
    """``{user id: [(channel, delay minutes)]}``; a person without rules for ``urgency`` gets
    the defaults."""
    found: dict[int, list[tuple[str, int]]] = {}
    for rule in NotificationRule.objects.filter(user_id__in=list(user_ids), urgency=urgency):
        rows = found.setdefault(rule.user_id, [])
        if rule.channel != NotificationChannel.IN_APP:  # in the portal: always, at once
            rows.append((rule.channel, rule.delay_minutes))
    default = DEFAULT_RULES.get(urgency, DEFAULT_RULES[Urgency.HIGH])
    return {pk: found.get(pk, list(default)) for pk in user_ids}


def quiet_until(preference, at: datetime) -> datetime | None:
    """The end of the quiet period ``at`` falls in (None when it falls in none)."""
    if preference is None or preference.quiet_start is None or preference.quiet_end is None:
        return None
    start, end = preference.quiet_start, preference.quiet_end
    if start == end:
        return None
    try:
        zone = zoneinfo.ZoneInfo(preference.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = at.astimezone(zone)
    moment, day = local.time(), local.date()
    if start < end:  # e.g. 12:00–13:00
        inside, end_day = start <= moment < end, day
    elif moment >= start:  # across midnight, evening part (22:00–07:00 at 23:00)
        inside, end_day = True, day + timedelta(days=1)
    else:  # across midnight, morning part (at 03:00)
        inside, end_day = moment < end, day
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone)


def merge_into_burst(row: Notification, now: datetime) -> None:
    """Within a burst (the same person, channel and thread inside the window), the first
    message goes as its rule says; the next ones ride on a message not sent yet, or wait for
    the window's end and carry the ones after them. Sets ``row``'s status / due time."""
    window = burst_window()
    if not row.thread or row.held_until or window <= timedelta(0):
        return
    same = Notification.objects.filter(
        recipient_id=row.recipient_id,
        channel=row.channel,
        thread=row.thread,
        created_at__gt=now - window,
        held_until__isnull=True,
    ).exclude(status=DeliveryStatus.CANCELLED)
    first = same.order_by("created_at", "id").first()
    if first is None:
        return
    carrier = (
        same.filter(status=DeliveryStatus.PENDING, merged_into__isnull=True)
        .order_by("created_at", "id")
        .select_for_update(skip_locked=True)
        .first()
    )
    if carrier is not None:
        row.status, row.merged_into, row.next_attempt_at = DeliveryStatus.MERGED, carrier, None
    else:
        row.next_attempt_at = max(row.next_attempt_at, first.created_at + window)


def burst_openers(rows: list[Notification], now: datetime) -> set[int]:
    """Of ``rows`` (in order, each one ``merge_into_burst`` would look at), those that open a
    burst, as ``id()``s: no message of their person, channel and thread inside the window, and
    none before them in ``rows``. ``merge_into_burst`` would leave them as they are, so they
    can be inserted together; one query for all (a sweep's batch pages many people about many
    incidents, each its own thread)."""
    window = burst_window()
    wanted = [r for r in rows if r.thread and not r.held_until]
    if window <= timedelta(0) or not wanted:
        return set()
    busy = set(
        Notification.objects.filter(
            recipient_id__in={r.recipient_id for r in wanted},
            channel__in={r.channel for r in wanted},
            thread__in={r.thread for r in wanted},
            created_at__gt=now - window,
            held_until__isnull=True,
        )
        # Said outright, the condition of notification_thread: PostgreSQL proves it from a
        # list of threads of at most 100 only, and otherwise reads each person's history.
        .exclude(thread="")
        .exclude(status=DeliveryStatus.CANCELLED)
        .values_list("recipient_id", "channel", "thread")
        .distinct()
    )
    openers = set()
    for row in wanted:
        burst = (row.recipient_id, row.channel, row.thread)
        if burst not in busy:
            busy.add(burst)
            openers.add(id(row))
    return openers


PERSONAL_CHANNELS = (NotificationChannel.EMAIL, NotificationChannel.CHAT)
