"""A person's shifts as an iCalendar feed (RFC 5545)."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from itsm.core.ical import escape_text, fold, utc


def shifts_calendar(user, shifts) -> str:
    """``shifts``: ``(schedule, Shift)`` pairs (``oncall.selectors.shifts_for_user``)."""
    host = settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0] or "itsm"
    now = utc(timezone.now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ITSM portal//On-call shifts//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + escape_text(f"On-call: {user}"),
    ]
    for schedule, shift in shifts:
        summary = f"On call: {schedule.name}" + (" (override)" if shift.is_override else "")
        lines += [
            "BEGIN:VEVENT",
            f"UID:oncall-{schedule.pk}-{user.pk}-{utc(shift.start)}@{host}",
            f"DTSTAMP:{now}",
            f"DTSTART:{utc(shift.start)}",
            f"DTEND:{utc(shift.end)}",
            "SUMMARY:" + escape_text(summary),
            "DESCRIPTION:" + escape_text(f"{schedule.team} · L{schedule.level} · {shift.layer}"),
            "URL:" + escape_text(f"{settings.SITE_URL.rstrip('/')}{schedule.get_absolute_url()}"),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(fold(line) for line in lines) + "\r\n"
