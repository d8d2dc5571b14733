"""The change calendar as an iCalendar feed (RFC 5545), written by hand: no extra dependency."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone

from itsm.core.ical import escape_text, fold, utc

__all__ = ["escape_text", "feed_key", "fold", "render", "utc"]


def feed_key(user) -> str:
    """The per-user secret of the feed URL (calendar clients cannot send a token header)."""
    message = f"changes-ics:{user.pk}:{user.password}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


def render(
    changes: Iterable, freezes: Iterable, *, base_url: str, host: str, entries: Iterable = ()
) -> str:
    """The feed: changes, freeze windows, and the entries other apps registered
    (``changes.calendar``, e.g. releases)."""
    now = utc(timezone.now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ITSM portal//Change calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + escape_text("Change calendar"),
    ]
    for change in changes:
        summary = f"{change.number} {change.title}"
        description = (
            f"{change.get_state_display()} / {change.change_class}\n{change.description}".strip()
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:{change.number}@{host}",
            f"DTSTAMP:{now}",
            f"LAST-MODIFIED:{utc(change.updated_at)}",
            f"DTSTART:{utc(change.planned_start)}",
            f"DTEND:{utc(change.planned_end)}",
            "SUMMARY:" + escape_text(summary),
            "DESCRIPTION:" + escape_text(description),
            "CATEGORIES:" + escape_text(str(change.get_category_display())),
            "STATUS:" + ("CONFIRMED" if change.state != "approved" else "TENTATIVE"),
            "URL:" + base_url + change.get_absolute_url(),
            "END:VEVENT",
        ]
    for window in freezes:
        lines += [
            "BEGIN:VEVENT",
            f"UID:freeze-{window.pk}@{host}",
            f"DTSTAMP:{now}",
            f"DTSTART:{utc(window.starts_at)}",
            f"DTEND:{utc(window.ends_at)}",
            "SUMMARY:" + escape_text(f"Freeze: {window.name}"),
            "DESCRIPTION:" + escape_text(window.reason),
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    for entry in entries:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{entry.kind}-{entry.number}@{host}",
            f"DTSTAMP:{now}",
            f"DTSTART:{utc(entry.start)}",
            # An entry for a moment has no DTEND (RFC 5545 §3.6.1: it then ends at its start).
            *([f"DTEND:{utc(entry.end)}"] if entry.end > entry.start else []),
            "SUMMARY:" + escape_text(f"{entry.number} {entry.title}"),
            *(["DESCRIPTION:" + escape_text(str(entry.service))] if entry.service else []),
            "CATEGORIES:" + escape_text(entry.kind_label),
            *(["URL:" + base_url + entry.url] if entry.url else []),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
