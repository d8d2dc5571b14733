"""Releases and release slots on the change calendar (DESIGN.md § Change: "scheduled changes and
releases"). ``changes`` may not import ``releases`` (imports point one way), so the change
calendar asks registered sources for entries; ``ReleasesConfig.ready()`` registers
:func:`calendar_entries` when ``changes.calendar`` offers ``register_source``.

:func:`release_entries` returns plain dicts with the ``CalendarEntry`` fields, so it can be
used and tested without the change calendar.
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils.translation import gettext as _

from .models import Release, ReleaseSlot

# Releases without a slot have no duration of their own; they show as a moment.
_LONGEST_SLOT = dt.timedelta(days=1)


def _overlaps(start: dt.datetime, end: dt.datetime, lo: dt.datetime, hi: dt.datetime) -> bool:
    """Half-open ``[start, end)`` range overlap; a moment (``lo == hi``) counts inside it."""
    if lo == hi:
        return start <= lo < end
    return lo < end and hi > start


def release_entries(start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Planned releases and release slots overlapping ``[start, end)``, as dicts with the keys
    ``kind, number, title, start, end, url, service``.

    A release runs for its slot's duration (or is a moment when it has no slot); a slot
    already taken by a release is shown through that release only, a free slot links to the
    form that plans a release for it."""
    entries: list[dict] = []
    releases = Release.objects.filter(
        planned_at__gte=start - _LONGEST_SLOT, planned_at__lt=end
    ).select_related("service", "slot")
    for release in releases:
        duration = (
            (release.slot.ends_at - release.slot.starts_at) if release.slot else dt.timedelta(0)
        )
        lo, hi = release.planned_at, release.planned_at + duration
        if not _overlaps(start, end, lo, hi):
            continue
        entries.append(
            {
                "kind": "release",
                "number": release.number,
                "title": f"{release.name} {release.version} ({release.get_state_display()})",
                "start": lo,
                "end": hi,
                "url": release.get_absolute_url(),
                "service": release.service.name,
            }
        )
    free_slots = ReleaseSlot.objects.filter(
        starts_at__lt=end, ends_at__gt=start, releases__isnull=True
    ).order_by("starts_at")
    for slot in free_slots:
        entries.append(
            {
                "kind": "release-slot",
                "number": f"{slot.pk}",
                "title": _("%(type)s slot") % {"type": slot.get_release_type_display()},
                "start": slot.starts_at,
                "end": slot.ends_at,
                "url": f"{reverse('releases:create')}?slot={slot.pk}",
                "service": "",
            }
        )
    return entries


def calendar_entries(start: dt.datetime, end: dt.datetime) -> list:
    """:func:`release_entries` as ``changes.calendar.CalendarEntry`` items (the registered
    source)."""
    from changes.calendar import CalendarEntry

    return [CalendarEntry(**entry) for entry in release_entries(start, end)]
