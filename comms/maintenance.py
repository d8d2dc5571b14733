"""Scheduled maintenance on the status page, from apps above this one.

``comms`` sits below ``changes`` in the import order, so it cannot ask for approved changes'
windows; ``changes`` registers a source from its ``AppConfig.ready()`` instead::

    from comms.maintenance import register_source

    register_source("changes", approved_windows)

A source is ``function(service_ids, start, end) -> list[Maintenance]``: the windows touching
[start, end) of those services. ``title``, ``reference`` and ``url`` are internal; the public
page shows the services and the window only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Maintenance:
    service_ids: tuple[int, ...]
    starts_at: datetime
    ends_at: datetime
    title: str
    reference: str = ""
    url: str = ""

    def in_progress(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


Source = Callable[[Iterable[int], datetime, datetime], list[Maintenance]]

_sources: dict[str, Source] = {}


def register_source(name: str, source: Source) -> None:
    _sources[name] = source


def windows(service_ids: Iterable[int], start: datetime, end: datetime) -> list[Maintenance]:
    """Every source's windows touching [start, end) of ``service_ids``, by start."""
    ids = list(service_ids)
    if not ids:
        return []
    found = [m for source in _sources.values() for m in source(ids, start, end)]
    return sorted(found, key=lambda m: (m.starts_at, m.reference))
