"""Entries of other apps on the change calendar, without this app importing them.

Imports point one way (DESIGN.md § Layout: changes ← releases), so an app above ``changes`` puts
its dated items on the change calendar — the month and week views and the iCalendar feed — by
registering a *source* here, typically from its ``AppConfig.ready()``::

    from changes.calendar import CalendarEntry, register_source

    def release_entries(start, end):
        return [
            CalendarEntry(kind="release", number=r.number, title=r.title,
                          start=r.planned_at, end=r.planned_end, url=r.get_absolute_url(),
                          service=r.service.name if r.service else "")
            for r in Release.objects.filter(planned_at__lt=end, planned_end__gt=start)
        ]

    class ReleasesConfig(AppConfig):
        def ready(self):
            register_source(release_entries)

The contract:

- ``fn(start, end) -> list[CalendarEntry]``. ``start`` and ``end`` are aware datetimes of a
  half-open range ``[start, end)``; return the entries that overlap it (``entry.start < end``
  and ``entry.end > start``, or ``entry.start`` inside it for a moment). Entries outside the
  range are dropped; the calendar places each entry on every day it overlaps.
- ``CalendarEntry`` fields: ``kind`` — a short lowercase word (``"release"``), with ``number``
  the entry's identity (the iCalendar UID is ``<kind>-<number>@<host>``), so numbers must be
  unique per kind; ``title`` — shown after the number; ``start``/``end`` — aware datetimes,
  ``end >= start`` (``end == start`` is a moment, e.g. a deployment slot); ``url`` — the
  entry's page as an absolute path (``"/releases/REL-000012/"``) or ``""``; ``service`` — the
  display name of the affected service or ``""``.
- The viewer's language is active while a source runs, so translated titles come out right.
  Sources are called on every calendar page and feed request: keep them to one query.
- A source that raises, or returns something other than ``CalendarEntry`` items, is logged and
  skipped, so one broken source never takes the change calendar down.
- Registering the same function twice is ignored; ``register_source`` returns the function, so
  it also works as a decorator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalendarEntry:
    kind: str
    number: str
    title: str
    start: datetime
    end: datetime
    url: str = ""
    service: str = ""

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    def overlaps(self, start: datetime, end: datetime) -> bool:
        if self.end <= self.start:  # a moment
            return start <= self.start < end
        return self.start < end and self.end > start


# Labels for the kinds the portal's own apps register (others are shown as their kind).
KIND_LABELS = {"release": _("Release"), "deployment": _("Deployment")}

Source = Callable[[datetime, datetime], list[CalendarEntry]]
_sources: list[Source] = []


def register_source(fn: Source) -> Source:
    """Put ``fn``'s entries on the change calendar (see the module docstring)."""
    if fn not in _sources:
        _sources.append(fn)
    return fn


def unregister_source(fn: Source) -> None:
    if fn in _sources:
        _sources.remove(fn)


def entries_between(start: datetime, end: datetime) -> list[CalendarEntry]:
    """Every registered source's entries overlapping ``[start, end)``, by start time."""
    found: list[CalendarEntry] = []
    for source in list(_sources):
        try:
            entries = list(source(start, end) or [])
        except Exception:
            logger.exception("change calendar source %r failed", source)
            continue
        for entry in entries:
            if not isinstance(entry, CalendarEntry):
                logger.error("change calendar source %r returned %r", source, entry)
                continue
            if entry.overlaps(start, end):
                found.append(entry)
    return sorted(found, key=lambda e: (e.start, e.kind, e.number))
