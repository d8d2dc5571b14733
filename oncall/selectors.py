"""Read queries of on-call: who is on call now, a team's levels, shift starts, one's shifts.

Every function loads the schedules it needs with their layers, rotation members and the
overrides of the window in a constant number of queries, then computes in memory
(``oncall.rotation``): asking for 100 teams costs the same few queries as asking for one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q

from itsm.core.business_calendar import current_calendar

from .models import Layer, LayerMember, Override, Schedule
from .rotation import HORIZON, Shift, final_shifts, on_call_at

__all__ = [
    "Shift",
    "load",
    "on_call",
    "schedules_with_rotations",
    "shift_before",
    "shift_starts",
    "shifts_for_user",
    "team_on_call",
    "teams_on_call",
]


def load(schedules, *, start: datetime, end: datetime) -> list[Schedule]:
    """``schedules`` with what the rotation needs for ``[start, end)`` attached (layers with
    their people in order, the overrides of the window), in four queries whatever their
    number: rows as tuples, each person loaded once."""
    schedules = list(schedules)
    ids = [s.pk for s in schedules]
    layers = list(
        Layer.objects.filter(schedule_id__in=ids).order_by("schedule_id", "-priority", "id")
    )
    rows = list(
        LayerMember.objects.filter(layer__schedule_id__in=ids)
        .order_by("layer_id", "position", "id")
        .values_list("layer_id", "user_id")
    )
    window = list(
        Override.objects.filter(schedule_id__in=ids, end__gt=start, start__lt=end).order_by("start")
    )
    people = get_user_model().objects.in_bulk(
        {user_id for _layer, user_id in rows}
        | {o.user_id for o in window}
        | {o.replaces_id for o in window if o.replaces_id}
    )
    members: dict[int, list] = {}
    for layer_id, user_id in rows:
        members.setdefault(layer_id, []).append(people[user_id])
    by_schedule: dict[int, list] = {pk: [] for pk in ids}
    for layer in layers:
        layer.people = members.get(layer.pk, [])
        by_schedule[layer.schedule_id].append(layer)
    overrides: dict[int, list] = {pk: [] for pk in ids}
    for override in window:
        override.user = people[override.user_id]
        override.replaces = people.get(override.replaces_id)
        overrides[override.schedule_id].append(override)
    for schedule in schedules:
        schedule.loaded_layers = by_schedule[schedule.pk]
        schedule.loaded_overrides = overrides[schedule.pk]
    return schedules


def schedules_with_rotations(queryset=None, *, start: datetime, end: datetime) -> list[Schedule]:
    """The schedules of ``queryset`` (with their team) loaded for ``[start, end)``."""
    queryset = Schedule.objects.all() if queryset is None else queryset
    return load(queryset.select_related("team"), start=start, end=end)


def on_call(schedule: Schedule, at: datetime) -> list[Shift]:
    """The people on call in ``schedule`` at ``at`` (each with ``.end``: until when); [] is a
    gap."""
    loaded = schedules_with_rotations(
        Schedule.objects.filter(pk=schedule.pk), start=at - HORIZON, end=at + HORIZON
    )
    return on_call_at(loaded[0], at) if loaded else []


def teams_on_call(teams, at: datetime) -> dict[int, list[dict]]:
    """For each team (by id): one entry per active schedule, lowest level first:
    ``{"level", "schedule", "shifts"}`` (``shifts`` empty: a gap)."""
    calendar = current_calendar()
    schedules = load(
        Schedule.objects.filter(team__in=teams, is_active=True).order_by("level", "name"),
        start=at - HORIZON,
        end=at + HORIZON,
    )
    answer: dict[int, list[dict]] = {team.pk: [] for team in teams}
    for schedule in schedules:
        answer[schedule.team_id].append(
            {
                "level": schedule.level,
                "schedule": schedule,
                "shifts": on_call_at(schedule, at, calendar=calendar),
            }
        )
    return answer


def team_on_call(team, at: datetime) -> list[dict]:
    return teams_on_call([team], at)[team.pk]


def shift_starts(since: datetime, until: datetime, *, schedules=None) -> list[Shift]:
    """Shifts (people, not gaps) that start in ``(since, until]`` in the active schedules."""
    queryset = Schedule.objects.filter(is_active=True)
    if schedules is not None:
        queryset = queryset.filter(pk__in=[s.pk for s in schedules])
    window_start, window_end = since - timedelta(days=1), until + timedelta(seconds=1)
    calendar = current_calendar()
    started = []
    for schedule in schedules_with_rotations(queryset, start=window_start, end=window_end):
        started += [
            s
            for s in final_shifts(schedule, window_start, window_end, calendar=calendar)
            if not s.is_gap and since < s.start <= until
        ]
    return started


def shifts_for_user(user, start: datetime, end: datetime) -> list[tuple[Schedule, Shift]]:
    """``user``'s own shifts over ``[start, end)`` in every active schedule, by start."""
    queryset = (
        Schedule.objects.filter(is_active=True)
        .filter(Q(layers__rotation_members__user=user) | Q(overrides__user=user))
        .distinct()
    )
    calendar = current_calendar()
    mine = []
    for schedule in schedules_with_rotations(queryset, start=start, end=end):
        mine += [
            (schedule, s)
            for s in final_shifts(schedule, start, end, calendar=calendar)
            if s.user is not None and s.user.pk == user.pk
        ]
    return sorted(mine, key=lambda pair: pair[1].start)


def shift_before(schedule: Schedule, at: datetime) -> Shift | None:
    """The whole shift (or gap) that ends at ``at``, looking back as far as ``HORIZON``."""
    [loaded] = load([schedule], start=at - HORIZON, end=at)
    shifts = final_shifts(loaded, at - HORIZON, at)
    return shifts[-1] if shifts else None
