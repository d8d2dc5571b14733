"""Rotation arithmetic (issue 16 §1, §8): hand-offs across DST, business-calendar restrictions
(year-end closure, Golden Week), layer priority, overrides over layers, gaps, split rotations."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.models import Layer, LayerMember, Override, Schedule
from oncall.rotation import final_shifts
from oncall.selectors import on_call, shift_starts, shifts_for_user, team_on_call

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NY = ZoneInfo("America/New_York")


@pytest.fixture
def people(make_user):
    return [make_user(username=name) for name in ("ann", "bob", "cid")]


@pytest.fixture
def schedule(db):
    from itsm.core.models import Team

    team = Team.objects.create(name="Ops", slug="ops")
    return Schedule.objects.create(team=team, name="Primary", slug="primary")


def layer(schedule, users, **fields):
    fields.setdefault("name", "Weekly")
    fields.setdefault("rotation", "weekly")
    fields.setdefault("handoff_time", time(9, 0))
    fields.setdefault("start_date", date(2025, 6, 2))
    row = Layer.objects.create(schedule=schedule, **fields)
    for position, user in enumerate(users):
        LayerMember.objects.create(layer=row, user=user, position=position)
    return row


def shift_at(schedule, at):
    """The whole shift around ``at`` (``on_call`` only looks ahead: its start is ``at``)."""
    shifts = final_shifts(schedule, at - timedelta(days=10), at + timedelta(days=10))
    return next(s for s in shifts if s.start <= at < s.end)


def who(schedule, at) -> str | None:
    shifts = on_call(schedule, at)
    return shifts[0].user.username if shifts else None


def test_weekly_rotation_hands_off_at_the_local_time(schedule, people):
    layer(schedule, people)
    monday = datetime(2025, 6, 2, 9, 0, tzinfo=JST)
    assert who(schedule, monday - timedelta(seconds=1)) is None  # before the first shift
    assert who(schedule, monday) == "ann"
    assert who(schedule, monday + timedelta(days=7) - timedelta(seconds=1)) == "ann"
    assert who(schedule, monday + timedelta(days=7)) == "bob"
    assert who(schedule, monday + timedelta(days=14)) == "cid"
    assert who(schedule, monday + timedelta(days=21)) == "ann"
    shift = shift_at(schedule, monday + timedelta(days=1))
    assert (shift.start, shift.end) == (monday, monday + timedelta(days=7))


def test_a_weekly_hand_off_stays_at_nine_across_a_dst_change(schedule, people):
    schedule.time_zone = "America/New_York"
    schedule.save()
    # DST starts on Sunday 2025-03-09 in New York: the week is 167 hours long.
    layer(schedule, people, start_date=date(2025, 3, 3))
    first = shift_at(schedule, datetime(2025, 3, 5, 12, 0, tzinfo=NY))
    second = shift_at(schedule, datetime(2025, 3, 12, 12, 0, tzinfo=NY))
    assert first.user.username == "ann" and second.user.username == "bob"
    assert first.end == second.start
    assert second.start.astimezone(NY).time() == time(9, 0)
    assert first.end - first.start == timedelta(hours=167)
    # …and back on 2 November (169 hours).
    nov = shift_at(schedule, datetime(2025, 10, 29, 12, 0, tzinfo=NY))
    assert nov.end - nov.start == timedelta(hours=169)
    assert nov.end.astimezone(NY).time() == time(9, 0)


def test_daily_and_every_n_days(schedule, people):
    layer(schedule, people, rotation="daily")
    assert who(schedule, datetime(2025, 6, 3, 8, 59, tzinfo=JST)) == "ann"
    assert who(schedule, datetime(2025, 6, 3, 9, 0, tzinfo=JST)) == "bob"
    other = Schedule.objects.create(team=schedule.team, name="B", slug="b")
    layer(other, people, rotation="custom", length_days=3)
    assert who(other, datetime(2025, 6, 5, 8, 0, tzinfo=JST)) == "ann"
    assert who(other, datetime(2025, 6, 5, 9, 0, tzinfo=JST)) == "bob"


def test_weekends_and_holidays_layer_covers_the_year_end_closure(schedule, people):
    ann, bob, _ = people
    layer(schedule, [ann], name="Weekdays", start_date=date(2025, 12, 1))
    layer(schedule, [bob], name="Holidays", priority=2, restriction="weekends_holidays")
    # 2025-12-29 (Mon) … 2026-01-03 are the year-end closure (年末年始) on the calendar.
    assert who(schedule, datetime(2025, 12, 26, 15, 0, tzinfo=JST)) == "ann"  # Friday
    assert who(schedule, datetime(2025, 12, 27, 15, 0, tzinfo=JST)) == "bob"  # Saturday
    assert who(schedule, datetime(2025, 12, 30, 3, 0, tzinfo=JST)) == "bob"  # closure
    assert who(schedule, datetime(2026, 1, 2, 12, 0, tzinfo=JST)) == "bob"
    assert who(schedule, datetime(2026, 1, 5, 12, 0, tzinfo=JST)) == "ann"  # back to work
    bob_shift = shift_at(schedule, datetime(2025, 12, 30, 3, 0, tzinfo=JST))
    # One continuous shift from Saturday 27th 00:00 to Monday 5th 00:00 (the 4th is a Sunday).
    assert bob_shift.start == datetime(2025, 12, 27, 0, 0, tzinfo=JST)
    assert bob_shift.end == datetime(2026, 1, 5, 0, 0, tzinfo=JST)


def test_golden_week_holidays_and_off_hours(schedule, people):
    ann, bob, _ = people
    layer(schedule, [bob], name="Nights", restriction="off_hours", start_date=date(2025, 4, 1))
    assert who(schedule, datetime(2025, 5, 5, 12, 0, tzinfo=JST)) == "bob"  # こどもの日
    assert who(schedule, datetime(2025, 5, 7, 12, 0, tzinfo=JST)) is None  # Wednesday: a gap
    assert who(schedule, datetime(2025, 5, 7, 22, 0, tzinfo=JST)) == "bob"


def test_split_rotation_hands_over_at_every_opening_and_closing(schedule, people):
    layer(schedule, people, rotation="split", start_date=date(2025, 6, 2))
    # Calendar: 9:00-18:00 on business days (Mon 2 June is one).
    assert who(schedule, datetime(2025, 6, 2, 10, 0, tzinfo=JST)) == "ann"  # block 0
    assert who(schedule, datetime(2025, 6, 2, 20, 0, tzinfo=JST)) == "bob"  # night, block 1
    assert who(schedule, datetime(2025, 6, 3, 10, 0, tzinfo=JST)) == "cid"  # block 2
    night = shift_at(schedule, datetime(2025, 6, 2, 20, 0, tzinfo=JST))
    assert night.start == datetime(2025, 6, 2, 18, 0, tzinfo=JST)
    assert night.end == datetime(2025, 6, 3, 9, 0, tzinfo=JST)
    # Friday's night block runs over the weekend to Monday's opening.
    weekend = shift_at(schedule, datetime(2025, 6, 7, 12, 0, tzinfo=JST))
    assert weekend.start == datetime(2025, 6, 6, 18, 0, tzinfo=JST)
    assert weekend.end == datetime(2025, 6, 9, 9, 0, tzinfo=JST)


def test_overrides_win_over_layers_and_the_newest_override_wins(schedule, people, make_user):
    ann, bob, cid = people
    layer(schedule, [ann])
    Override.objects.create(
        schedule=schedule,
        user=bob,
        replaces=ann,
        start=datetime(2025, 6, 3, 18, 0, tzinfo=JST),
        end=datetime(2025, 6, 4, 9, 0, tzinfo=JST),
    )
    Override.objects.create(
        schedule=schedule,
        user=cid,
        start=datetime(2025, 6, 4, 0, 0, tzinfo=JST),
        end=datetime(2025, 6, 4, 2, 0, tzinfo=JST),
    )
    assert who(schedule, datetime(2025, 6, 3, 17, 59, tzinfo=JST)) == "ann"
    assert who(schedule, datetime(2025, 6, 3, 23, 0, tzinfo=JST)) == "bob"
    assert who(schedule, datetime(2025, 6, 4, 1, 0, tzinfo=JST)) == "cid"
    assert who(schedule, datetime(2025, 6, 4, 3, 0, tzinfo=JST)) == "bob"
    assert who(schedule, datetime(2025, 6, 4, 9, 0, tzinfo=JST)) == "ann"
    shift = on_call(schedule, datetime(2025, 6, 3, 23, 0, tzinfo=JST))[0]
    assert shift.is_override and shift.replaces == ann


def test_higher_layers_win_and_gaps_are_reported(schedule, people):
    ann, bob, _ = people
    layer(schedule, [ann], name="Base", priority=1)
    layer(schedule, [bob], name="Business", priority=5, restriction="business_hours")
    start = datetime(2025, 6, 2, 9, 0, tzinfo=JST)
    shifts = final_shifts(schedule, start, start + timedelta(days=1))
    assert [(s.user.username, s.layer) for s in shifts] == [
        ("bob", "Business"),
        ("ann", "Base"),
    ]
    assert shifts[0].end == datetime(2025, 6, 2, 18, 0, tzinfo=JST)
    early = final_shifts(schedule, start - timedelta(hours=2), start)
    assert len(early) == 1 and early[0].is_gap  # before the first hand-off: nobody


def test_team_levels_shift_starts_and_my_shifts(schedule, people):
    ann, bob, _ = people
    layer(schedule, [ann, bob])
    leads = Schedule.objects.create(team=schedule.team, name="Leads", slug="leads", level=2)
    monday = datetime(2025, 6, 9, 9, 0, tzinfo=JST)
    levels = team_on_call(schedule.team, monday)
    assert [(row["level"], [s.user.username for s in row["shifts"]]) for row in levels] == [
        (1, ["bob"]),
        (2, []),  # a schedule with no layer is a gap
    ]
    assert leads.pk == levels[1]["schedule"].pk
    started = shift_starts(monday - timedelta(minutes=5), monday + timedelta(minutes=5))
    assert [(s.user.username, s.start) for s in started] == [("bob", monday)]
    mine = shifts_for_user(ann, monday - timedelta(days=7), monday + timedelta(days=14))
    assert [s.start for _schedule, s in mine] == [
        monday - timedelta(days=7),
        monday + timedelta(days=7),
    ]
