"""Rotation arithmetic: who is on call in a schedule, over a range or at an instant.

Pure functions over a schedule's prefetched layers, rotation members and overrides (no writes,
a constant number of queries when the caller prefetched them; ``oncall.selectors`` does).

- A layer's shift ``k`` starts at ``start_date + k × length`` at the hand-off time, on the local
  wall clock of the schedule's time zone (a weekly 09:00 hand-off stays 09:00 across a DST
  change), and belongs to ``members[k % n]``. ``split`` layers hand over at every opening and
  closing of the business calendar instead: each business-hours block and each off-hours block
  (nights, weekends, holidays) is one shift.
- A restriction keeps only the parts of a layer's shifts inside business hours, outside them,
  or on weekends and holidays (from the business calendar).
- Final on-call = for each instant the highest-priority layer that has someone; then overrides
  on top (the newest wins where two overlap). What is left uncovered is a gap (``user=None``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from itsm.core.business_calendar import current_calendar

from .models import Restriction, Rotation

PERIOD_DAYS = {Rotation.DAILY: 1, Rotation.WEEKLY: 7}
# The most ``on_call_at`` looks around an instant (a schedule's ``horizon`` is usually less).
HORIZON = timedelta(days=92)


@dataclass(frozen=True)
class Shift:
    """``user`` is on call in schedule ``schedule_id`` over ``[start, end)``; a gap when
    ``user`` is None. ``layer``: the layer's name (empty for an override or a gap)."""

    schedule_id: int
    user: Any
    start: datetime
    end: datetime
    is_override: bool = False
    layer: str = ""
    replaces: Any = None

    @property
    def is_gap(self) -> bool:
        return self.user is None


def _at(d: date, t, zone) -> datetime:
    """Local wall time ``t`` on ``d`` in ``zone``, as UTC (a time in a DST gap moves forward)."""
    return datetime.combine(d, t, tzinfo=zone).astimezone(UTC)


def _members(layer) -> list:
    people = getattr(layer, "people", None)  # set by oncall.selectors.load
    if people is None:
        people = [m.user for m in layer.rotation_members.all()]
    return [user for user in people if user.is_active]


def _layers(schedule) -> list:
    loaded = getattr(schedule, "loaded_layers", None)
    return list(schedule.layers.all()) if loaded is None else loaded


def _overrides(schedule) -> list:
    loaded = getattr(schedule, "loaded_overrides", None)
    return list(schedule.overrides.all()) if loaded is None else loaded


def horizon(schedule) -> timedelta:
    """How far around an instant to look to see a whole shift: one day more than the longest
    rotation (a split block spans a long weekend: ten days)."""
    days = [
        10
        if layer.rotation == Rotation.SPLIT
        else PERIOD_DAYS.get(layer.rotation, layer.length_days)
        for layer in _layers(schedule)
    ]
    return timedelta(days=min(max(days, default=1) + 1, 92))


def _periodic(layer, people, start, end, zone) -> list[tuple]:
    period = layer.length_days if layer.rotation == Rotation.CUSTOM else PERIOD_DAYS[layer.rotation]
    first = start.astimezone(zone).date()
    k = max(0, (first - layer.start_date).days // period - 1)
    pieces = []
    while True:
        day = layer.start_date + timedelta(days=k * period)
        begins = _at(day, layer.handoff_time, zone)
        if begins >= end:
            return pieces
        ends = _at(day + timedelta(days=period), layer.handoff_time, zone)
        if ends > start:
            pieces.append((people[k % len(people)], begins, ends))
        k += 1


def _split(layer, people, start, end, calendar) -> list[tuple]:
    """Business-hours and off-hours blocks from the first opening on or after ``start_date``,
    numbered 0, 1, 2, … (business block of the j-th business day = 2j, the off-hours block after
    it = 2j + 1), each handed to the next person."""
    anchor = _at(layer.start_date, datetime.min.time(), calendar.tz)
    blocks = calendar.business_intervals(anchor, end + timedelta(days=40))
    pieces = []
    for j, (opening, closing) in enumerate(blocks[:-1]):
        if opening >= end:
            break
        following = blocks[j + 1][0]
        for index, begins, ends in ((2 * j, opening, closing), (2 * j + 1, closing, following)):
            if ends > start and begins < end:
                pieces.append((people[index % len(people)], begins, ends))
    return pieces


@functools.lru_cache(maxsize=512)
def _allowed(
    restriction: str, start, end, calendar
) -> tuple[tuple[datetime, datetime], ...] | None:
    """The parts of ``[start, end)`` a restriction keeps (None: all of it). Cached: the
    schedules asked about one instant share their windows (the calendar is part of the key,
    so an edited calendar is a new one)."""
    kept = _restricted(restriction, start, end, calendar)
    return None if kept is None else tuple(kept)


def _restricted(restriction: str, start, end, calendar) -> list[tuple[datetime, datetime]] | None:
    if restriction == Restriction.BUSINESS_HOURS:
        return calendar.business_intervals(start, end)
    if restriction == Restriction.WEEKENDS_HOLIDAYS:
        return calendar.closed_days(start, end)
    if restriction == Restriction.OFF_HOURS:
        kept, cursor = [], start
        for opening, closing in calendar.business_intervals(start, end):
            if opening > cursor:
                kept.append((cursor, opening))
            cursor = max(cursor, closing)
        if cursor < end:
            kept.append((cursor, end))
        return kept
    return None


def layer_shifts(layer, start: datetime, end: datetime, *, zone, calendar=None) -> list[tuple]:
    """``(user, start, end)`` pieces of one layer over ``[start, end)``, restrictions applied."""
    people = _members(layer)
    if not people or layer.start_date is None:
        return []
    calendar = calendar or current_calendar()
    if layer.rotation == Rotation.SPLIT:
        pieces = _split(layer, people, start, end, calendar)
    else:
        pieces = _periodic(layer, people, start, end, zone)
    pieces = [(u, max(s, start), min(e, end)) for u, s, e in pieces]
    allowed = _allowed(layer.restriction, start, end, calendar)
    if allowed is None:
        return pieces
    return [
        (user, max(s, a), min(e, b))
        for user, s, e in pieces
        for a, b in allowed
        if max(s, a) < min(e, b)
    ]


def final_shifts(schedule, start: datetime, end: datetime, *, calendar=None) -> list[Shift]:
    """Who is on call over ``[start, end)``: contiguous shifts covering it, gaps included."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    zone = schedule.zone
    layers = sorted(_layers(schedule), key=lambda layer: (-layer.priority, layer.pk))
    by_layer = [
        (layer.name, layer_shifts(layer, start, end, zone=zone, calendar=calendar))
        for layer in layers
    ]
    overrides = sorted(
        (o for o in _overrides(schedule) if o.end > start and o.start < end),
        key=lambda o: (o.created_at or o.start, o.pk),
        reverse=True,
    )
    cuts = {start, end}
    for _name, pieces in by_layer:
        for _user, s, e in pieces:
            cuts.update((s, e))
    for o in overrides:
        cuts.update((max(o.start, start), min(o.end, end)))
    cuts = sorted(c for c in cuts if start <= c <= end)
    segments: list[Shift] = []
    for begins, ends in zip(cuts, cuts[1:], strict=False):
        segment = _segment(schedule.pk, begins, ends, by_layer, overrides)
        if segments and replace(segments[-1], start=begins, end=ends) == segment:
            segments[-1] = replace(segments[-1], end=ends)  # the same shift goes on
        else:
            segments.append(segment)
    return segments


def _segment(schedule_id, begins, ends, by_layer, overrides) -> Shift:
    override = next((o for o in overrides if o.start <= begins and o.end >= ends), None)
    if override is not None:
        return Shift(schedule_id, override.user, begins, ends, True, "", override.replaces)
    for name, pieces in by_layer:
        for user, s, e in pieces:
            if s <= begins and e >= ends:
                return Shift(schedule_id, user, begins, ends, False, name)
    return Shift(schedule_id, None, begins, ends)


def on_call_at(schedule, at: datetime, *, calendar=None) -> list[Shift]:
    """Who is on call at ``at`` and until when (as far as ``horizon``); [] for a gap. The
    shift's ``start`` is ``at`` itself: only what lies ahead is computed."""
    shifts = final_shifts(schedule, at, at + horizon(schedule), calendar=calendar)
    return [s for s in shifts[:1] if not s.is_gap]
