"""Read queries of on-call: who is on call now, a team's levels, shift starts, one's shifts.

Every function loads the schedules it needs with their layers, rotation members and the
overrides of the window in a constant number of queries, then computes in memory
(``oncall.rotation``): asking for 100 teams costs the same few queries as asking for one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Prefetch, Q

from itsm.core.business_calendar import current_calendar

from .models import Layer, LayerMember, Override, Schedule
from .rotation import HORIZON, Shift, final_shifts, on_call_at

__all__ = [
    "Shift",
    "on_call",
    "schedules_with_rotations",
    "shift_starts",
    "shifts_for_user",
    "team_on_call",
    "teams_on_call",
]


def schedules_with_rotations(queryset=None, *, start: datetime, end: datetime):
    """Schedules with what the rotation needs for ``[start, end)`` prefetched."""
    queryset = Schedule.objects.all() if queryset is None else queryset
    members = LayerMember.objects.select_related("user").order_by("position", "id")
    return queryset.select_related("team").prefetch_related(
        Prefetch(
            "layers",
            queryset=Layer.objects.prefetch_related(Prefetch("rotation_members", queryset=members)),
        ),
        Prefetch(
            "overrides",
            queryset=Override.objects.filter(end__gt=start, start__lt=end).select_related(
                "user", "replaces"
            ),
        ),
    )


def on_call(schedule: Schedule, at: datetime) -> list[Shift]:
    """The people on call in ``schedule`` at ``at`` (each with ``.end``: until when); [] is a
    gap."""
    loaded = schedules_with_rotations(
        Schedule.objects.filter(pk=schedule.pk), start=at - HORIZON, end=at + HORIZON
    ).first()
    return on_call_at(loaded, at) if loaded is not None else []


def teams_on_call(teams, at: datetime) -> dict[int, list[dict]]:
    """For each team (by id): one entry per active schedule, lowest level first:
    ``{"level", "schedule", "shifts"}`` (``shifts`` empty: a gap)."""
    calendar = current_calendar()
    schedules = schedules_with_rotations(
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
