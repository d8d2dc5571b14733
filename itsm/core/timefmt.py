"""One way to show moments and durations on every page (issue 14).

- ``when(moment)``: "16:29" today, "12-03 16:29" this year, "2024-05-01 16:29" otherwise, so an
  old alert never reads as this year's.
- ``duration(seconds)``: "5:07" / "3:05:07" up to a day, then whole days ("945 d", ja "945日"),
  never tens of thousands of hours. The countdown script formats the same way (``DAY_LABEL``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

DAY = 86400


def days_text(days: int) -> str:
    # Translators: a duration in whole days, e.g. "945 d" (ja: "945日").
    return pgettext("duration", "%(days)s d") % {"days": days}


def duration(value) -> str:
    """Seconds or a timedelta as "m:ss", "h:mm:ss" or, beyond a day, "N d" (sign dropped)."""
    if value is None or value == "":
        return ""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    seconds = int(abs(float(value)))
    if seconds >= DAY:
        return days_text(seconds // DAY)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def countdown(due: datetime | None, now: datetime | None = None) -> str:
    """Time left until ``due`` ("1:05:00"), or "overdue 945 d" once it has passed."""
    if due is None:
        return ""
    left = (due - (now or timezone.now())).total_seconds()
    if left >= 0:
        return duration(left)
    return _("overdue %(duration)s") % {"duration": duration(left)}


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A moment in local time with as much date as it needs: the year when not this year."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now())
    if local.year != today.year:
        return local.strftime("%Y-%m-%d %H:%M")
    if local.date() != today.date():
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%H:%M")


def date_time(moment: datetime | None, now: datetime | None = None) -> str:
    """Like ``when`` but always with the date: "12-03 16:29", "2024-05-01 16:29"."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now())
    if local.year != today.year:
        return local.strftime("%Y-%m-%d %H:%M")
    return local.strftime("%m-%d %H:%M")
