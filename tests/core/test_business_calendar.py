"""Pure-Python tests for itsm.core.business_calendar (no database needed)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from itsm.core import business_calendar as bc
from itsm.core.business_calendar import BusinessCalendar

pytestmark: list = []

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def nyc(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar.default()


@pytest.fixture
def ny_cal() -> BusinessCalendar:
    return BusinessCalendar(
        tz=NEW_YORK,
        closed_month_days=frozenset(),
        holiday_country="US",
    )


def assert_same(actual: datetime, expected: datetime) -> None:
    """Same instant *and* expressed in the expected zone's local wall time."""
    assert actual == expected
    assert actual.tzinfo is not None
    assert actual.replace(tzinfo=None) == expected.replace(tzinfo=None)
    assert actual.utcoffset() == expected.utcoffset()


# --------------------------------------------------------------------- defaults


def test_default_calendar_shape(cal: BusinessCalendar) -> None:
    assert cal.tz == TOKYO
    assert dict(cal.working_hours) == {wd: (time(9), time(18)) for wd in range(5)}
    assert cal.closed_month_days == {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}
    assert cal.closed_dates == frozenset()
    assert cal.holiday_country == "JP"
    assert cal.holiday_language == "ja"
    # the plain constructor gives the same seed defaults
    assert BusinessCalendar(tz=TOKYO) == cal


def test_default_accepts_other_zone() -> None:
    assert BusinessCalendar.default("America/New_York").tz == NEW_YORK


def test_calendar_is_immutable_and_hashable(cal: BusinessCalendar) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.holiday_country = "US"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cal.working_hours[5] = (time(9), time(12))  # type: ignore[index]
    assert hash(cal) == hash(BusinessCalendar.default())
    assert len({cal, BusinessCalendar.default()}) == 1


def test_working_hours_are_copied() -> None:
    hours = {0: (time(9), time(18))}
    c = BusinessCalendar(tz=TOKYO, working_hours=hours)
    hours[1] = (time(9), time(18))
    assert 1 not in c.working_hours


def test_tz_may_be_given_as_name() -> None:
    assert BusinessCalendar(tz="Asia/Tokyo").tz == TOKYO  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"working_hours": {0: (time(18), time(9))}},
        {"working_hours": {0: (time(9), time(9))}},
        {"working_hours": {7: (time(9), time(18))}},
        {"closed_month_days": frozenset({(13, 1)})},
        {"holiday_country": "XX"},
        {"holiday_subdiv": "ZZ"},
    ],
)
def test_invalid_configuration_raises(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(tz=TOKYO, **kwargs)


# ----------------------------------------------------------------- business day


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 2, 10), True),  # Tue
        (date(2026, 2, 14), False),  # Sat
        (date(2026, 2, 15), False),  # Sun
        (date(2026, 2, 11), False),  # 建国記念の日 (Wed)
        (date(2026, 1, 12), False),  # 成人の日 (Mon)
        (date(2026, 4, 29), False),  # 昭和の日
        (date(2026, 5, 6), False),  # 振替休日
        (date(2026, 5, 7), True),
        (date(2026, 9, 22), False),  # 国民の休日 (sandwiched)
        (date(2026, 12, 28), True),  # last business day of the year
        (date(2026, 12, 29), False),  # 年末年始休業
        (date(2027, 1, 1), False),  # 元日
        (date(2027, 1, 4), True),  # first business day of 2027
    ],
)
def test_is_business_day(cal: BusinessCalendar, d: date, expected: bool) -> None:
    assert cal.is_business_day(d) is expected


def test_first_business_day_of_2027_is_a_plain_monday(cal: BusinessCalendar) -> None:
    assert date(2027, 1, 4).weekday() == 0
    assert cal.holiday_name(date(2027, 1, 4)) is None
    assert cal.is_business_day(date(2027, 1, 4))


def test_is_business_day_rejects_datetime(cal: BusinessCalendar) -> None:
    with pytest.raises(TypeError):
        cal.is_business_day(jst(2026, 2, 10, 10))


def test_closed_dates_and_custom_month_days() -> None:
    c = BusinessCalendar(
        tz=TOKYO,
        closed_dates=frozenset({date(2026, 8, 14)}),
        closed_month_days=frozenset({(8, 13)}),
    )
    assert not c.is_business_day(date(2026, 8, 13))
    assert not c.is_business_day(date(2026, 8, 14))
    assert c.holiday_name(date(2026, 8, 13)) == "休業日"
    assert c.holiday_name(date(2026, 8, 14)) == "休業日"
    # year-end is no longer closed: only the custom set applies
    assert c.is_business_day(date(2026, 12, 29))
    assert c.add_business_minutes(jst(2026, 8, 12, 17, 30), 60) == jst(2026, 8, 17, 9, 30)


def test_no_public_holidays() -> None:
    c = BusinessCalendar(tz=TOKYO, holiday_country=None)
    assert c.is_business_day(date(2026, 1, 12))  # 成人の日 ignored
    assert c.holiday_name(date(2026, 1, 12)) is None
    assert not c.is_business_day(date(2026, 12, 30))  # closure still applies


# ----------------------------------------------------------------- holiday name


@pytest.mark.parametrize(
    ("d", "name"),
    [
        (date(2026, 1, 1), "元日"),  # public holiday wins over the year-end closure
        (date(2026, 1, 2), "年末年始休業"),
        (date(2026, 1, 12), "成人の日"),
        (date(2027, 1, 11), "成人の日"),
        (date(2026, 4, 29), "昭和の日"),
        (date(2026, 5, 3), "憲法記念日"),
        (date(2026, 5, 4), "みどりの日"),
        (date(2026, 5, 5), "こどもの日"),
        (date(2026, 5, 6), "振替休日"),
        (date(2026, 12, 29), "年末年始休業"),
        (date(2026, 2, 10), None),  # ordinary Tuesday
        (date(2026, 2, 14), None),  # ordinary Saturday
    ],
)
def test_holiday_name_japanese(cal: BusinessCalendar, d: date, name: str | None) -> None:
    assert cal.holiday_name(d) == name


def test_holiday_name_language_override() -> None:
    c = BusinessCalendar(tz=TOKYO, holiday_language="en_US")
    assert c.holiday_name(date(2026, 1, 12)) == "Coming of Age Day"


def test_holiday_name_us(ny_cal: BusinessCalendar) -> None:
    assert ny_cal.holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"
    assert ny_cal.holiday_name(date(2026, 1, 12)) is None


# ---------------------------------------------------------------- business time


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (jst(2026, 2, 10, 8, 59), False),
        (jst(2026, 2, 10, 8, 59, 59, 999999), False),
        (jst(2026, 2, 10, 9, 0), True),
        (jst(2026, 2, 10, 12, 0), True),
        (jst(2026, 2, 10, 17, 59), True),
        (jst(2026, 2, 10, 17, 59, 59, 999999), True),
        (jst(2026, 2, 10, 18, 0), False),
        (jst(2026, 2, 14, 10, 0), False),  # Saturday
        (jst(2026, 2, 11, 10, 0), False),  # 建国記念の日
        (datetime(2026, 2, 10, 0, 30, tzinfo=UTC), True),  # 09:30 JST
        (datetime(2026, 2, 9, 23, 59, tzinfo=UTC), False),  # 08:59 JST
        (datetime(2026, 2, 10, 9, 0, tzinfo=UTC), False),  # 18:00 JST
    ],
)
def test_is_business_time(cal: BusinessCalendar, moment: datetime, expected: bool) -> None:
    assert cal.is_business_time(moment) is expected


# --------------------------------------------------------- next business moment


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (jst(2026, 2, 10, 10, 15), jst(2026, 2, 10, 10, 15)),
        (jst(2026, 2, 10, 7, 0), jst(2026, 2, 10, 9, 0)),
        (jst(2026, 2, 10, 18, 0), jst(2026, 2, 12, 9, 0)),  # 2/11 is a holiday
        (jst(2026, 2, 14, 11, 0), jst(2026, 2, 16, 9, 0)),  # Sat -> Mon
        (jst(2026, 12, 28, 18, 30), jst(2027, 1, 4, 9, 0)),
        (datetime(2026, 2, 13, 12, 0, tzinfo=UTC), jst(2026, 2, 16, 9, 0)),  # Fri 21:00 JST
    ],
)
def test_next_business_moment(cal: BusinessCalendar, moment: datetime, expected: datetime) -> None:
    assert_same(cal.next_business_moment(moment), expected)


# ---------------------------------------------------------- add business minutes


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        # Friday 17:30 + 60 -> Monday 09:30
        (jst(2026, 2, 6, 17, 30), 60, jst(2026, 2, 9, 9, 30)),
        # within one day
        (jst(2026, 2, 10, 10, 0), 90, jst(2026, 2, 10, 11, 30)),
        # budget used up exactly at closing -> closing instant
        (jst(2026, 2, 10, 17, 0), 60, jst(2026, 2, 10, 18, 0)),
        # P4 default (§8.1): 8 business hours
        (jst(2026, 2, 6, 14, 0), 8 * 60, jst(2026, 2, 9, 13, 0)),
        # started before opening: counting starts at 09:00
        (jst(2026, 2, 10, 6, 0), 30, jst(2026, 2, 10, 9, 30)),
        # started on a Saturday
        (jst(2026, 2, 7, 12, 0), 30, jst(2026, 2, 9, 9, 30)),
        # skipping a holiday: Tue 17:30 + 60 skips 2/11 (建国記念の日)
        (jst(2026, 2, 10, 17, 30), 60, jst(2026, 2, 12, 9, 30)),
        # Coming-of-age day: Fri 1/9 17:30 + 60 skips Mon 1/12
        (jst(2026, 1, 9, 17, 30), 60, jst(2026, 1, 13, 9, 30)),
        # Golden Week 2026: Tue 4/28 17:00 + 120 skips 昭和の日 (Wed 4/29)
        (jst(2026, 4, 28, 17, 0), 120, jst(2026, 4, 30, 10, 0)),
        # Golden Week 2026: Fri 5/1 17:00 + 120 skips 5/2-5/6
        (jst(2026, 5, 1, 17, 0), 120, jst(2026, 5, 7, 10, 0)),
        (jst(2026, 5, 1, 12, 0), 8 * 60, jst(2026, 5, 7, 11, 0)),
        # year-end closure: 12/28 17:00 + 120 -> 2027-01-04 10:00
        (jst(2026, 12, 28, 17, 0), 120, jst(2027, 1, 4, 10, 0)),
        # several full days: 3 x 540 minutes from Tue 09:00 (2/11 holiday)
        (jst(2026, 2, 10, 9, 0), 3 * 540, jst(2026, 2, 13, 18, 0)),
        (jst(2026, 2, 10, 9, 0), 3 * 540 + 1, jst(2026, 2, 16, 9, 1)),
    ],
)
def test_add_business_minutes(
    cal: BusinessCalendar, start: datetime, minutes: int, expected: datetime
) -> None:
    assert_same(cal.add_business_minutes(start, minutes), expected)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (jst(2026, 2, 10, 10, 15, 30), jst(2026, 2, 10, 10, 15, 30)),  # in hours: unchanged
        (jst(2026, 2, 10, 18, 0), jst(2026, 2, 12, 9, 0)),  # at closing: next opening
        (jst(2026, 2, 14, 10, 0), jst(2026, 2, 16, 9, 0)),  # weekend: next opening
    ],
)
def test_add_zero_minutes(cal: BusinessCalendar, start: datetime, expected: datetime) -> None:
    assert_same(cal.add_business_minutes(start, 0), expected)


def test_add_minutes_returns_calendar_zone(cal: BusinessCalendar) -> None:
    start = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)  # 10:00 JST
    result = cal.add_business_minutes(start, 30)
    assert result.tzinfo == TOKYO
    assert_same(result, jst(2026, 2, 10, 10, 30))


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (jst(2026, 2, 9, 9, 30), -60, jst(2026, 2, 6, 17, 30)),
        (jst(2026, 2, 9, 8, 0), -30, jst(2026, 2, 6, 17, 30)),  # before opening
        (jst(2027, 1, 4, 10, 0), -120, jst(2026, 12, 28, 17, 0)),
    ],
)
def test_subtract_business_minutes(
    cal: BusinessCalendar, start: datetime, minutes: int, expected: datetime
) -> None:
    assert_same(cal.add_business_minutes(start, minutes), expected)


@pytest.mark.parametrize("minutes", [0, 1, 59, 540, 541, 8 * 60, 5 * 540, 10_000, 100_000])
def test_add_and_between_round_trip(cal: BusinessCalendar, minutes: int) -> None:
    start = jst(2026, 4, 27, 11, 17)
    end = cal.add_business_minutes(start, minutes)
    assert cal.business_minutes_between(start, end) == minutes
    assert cal.add_business_minutes(end, -minutes) == start


def test_add_many_minutes_is_fast_enough(cal: BusinessCalendar) -> None:
    # ~5 years of business time: must finish promptly (one loop step per day)
    result = cal.add_business_minutes(jst(2026, 1, 5, 9, 0), 5 * 245 * 540)
    assert result.year in (2030, 2031)


# ------------------------------------------------------------- add business days


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Thursday 10:00 + 3 -> Tuesday 10:00
        (jst(2026, 2, 12, 10, 0), 3, jst(2026, 2, 17, 10, 0)),
        # skipping a holiday: Tue + 1 skips 建国記念の日 (Wed 2/11)
        (jst(2026, 2, 10, 10, 0), 1, jst(2026, 2, 12, 10, 0)),
        # normal change lead time (§9.2): Fri + 3 skips Mon 2/23 (天皇誕生日)
        (jst(2026, 2, 20, 15, 0), 3, jst(2026, 2, 26, 15, 0)),
        # major change (1 week = 5 business days) across Golden Week
        (jst(2026, 4, 24, 11, 0), 5, jst(2026, 5, 7, 11, 0)),  # 4/27,28,30, 5/1, 5/7
        # across the year-end closure
        (jst(2026, 12, 25, 14, 0), 2, jst(2027, 1, 4, 14, 0)),
        # start on a weekend: counts from the following business days
        (jst(2026, 2, 7, 10, 0), 1, jst(2026, 2, 9, 10, 0)),
        # outside hours: after closing clamps to closing, before opening to opening
        (jst(2026, 2, 12, 20, 0), 3, jst(2026, 2, 17, 18, 0)),
        (jst(2026, 2, 12, 7, 0), 3, jst(2026, 2, 17, 9, 0)),
        # backwards
        (jst(2026, 2, 17, 10, 0), -3, jst(2026, 2, 12, 10, 0)),
    ],
)
def test_add_business_days(
    cal: BusinessCalendar, start: datetime, days: int, expected: datetime
) -> None:
    assert_same(cal.add_business_days(start, days), expected)


def test_add_zero_business_days_returns_start(cal: BusinessCalendar) -> None:
    start = jst(2026, 2, 14, 23, 45)  # Saturday night, not business time
    assert_same(cal.add_business_days(start, 0), start)


def test_add_business_days_clamps_to_shorter_day() -> None:
    hours = {wd: (time(9), time(18)) for wd in range(5)} | {5: (time(9), time(12))}
    c = BusinessCalendar(tz=TOKYO, working_hours=hours)
    # Friday 15:00 + 1 -> Saturday, which closes at 12:00
    assert_same(c.add_business_days(jst(2026, 2, 13, 15, 0), 1), jst(2026, 2, 14, 12, 0))


# ------------------------------------------------------- business minutes between


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (jst(2026, 2, 10, 10, 0), jst(2026, 2, 10, 10, 0), 0),
        (jst(2026, 2, 10, 10, 0), jst(2026, 2, 10, 11, 30), 90),
        # over a weekend: Fri 17:00 -> Mon 10:00 = 60 + 60
        (jst(2026, 2, 6, 17, 0), jst(2026, 2, 9, 10, 0), 120),
        (jst(2026, 2, 9, 10, 0), jst(2026, 2, 6, 17, 0), -120),
        # entirely outside business hours
        (jst(2026, 2, 6, 18, 0), jst(2026, 2, 9, 9, 0), 0),
        # a full business week (2/11 is a holiday): 4 x 540
        (jst(2026, 2, 9, 0, 0), jst(2026, 2, 16, 0, 0), 4 * 540),
        # Golden Week: 4/28 17:00 -> 5/7 10:00 = 60 + 540 + 540 + 60
        (jst(2026, 4, 28, 17, 0), jst(2026, 5, 7, 10, 0), 1200),
        # year-end
        (jst(2026, 12, 28, 17, 0), jst(2027, 1, 4, 10, 0), 120),
        # partial minutes are truncated
        (jst(2026, 2, 10, 9, 0, 0), jst(2026, 2, 10, 9, 1, 59), 1),
        (jst(2026, 2, 10, 9, 1, 59), jst(2026, 2, 10, 9, 0, 0), -1),
        # mixed zones
        (datetime(2026, 2, 10, 0, 0, tzinfo=UTC), jst(2026, 2, 10, 10, 0), 60),
    ],
)
def test_business_minutes_between(
    cal: BusinessCalendar, a: datetime, b: datetime, expected: int
) -> None:
    assert cal.business_minutes_between(a, b) == expected


# ------------------------------------------------------------- New York and DST


def test_new_york_across_spring_forward(ny_cal: BusinessCalendar) -> None:
    # DST starts Sunday 2026-03-08 02:00 local (EST -5 -> EDT -4)
    start = nyc(2026, 3, 6, 17, 30)
    assert start.utcoffset() == timedelta(hours=-5)
    result = ny_cal.add_business_minutes(start, 60)
    assert_same(result, nyc(2026, 3, 9, 9, 30))
    assert result.utcoffset() == timedelta(hours=-4)
    assert result.astimezone(UTC) == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    assert ny_cal.business_minutes_between(nyc(2026, 3, 6, 17, 0), nyc(2026, 3, 9, 10, 0)) == 120
    assert ny_cal.is_business_time(datetime(2026, 3, 9, 13, 0, tzinfo=UTC))  # 09:00 EDT
    assert not ny_cal.is_business_time(datetime(2026, 3, 9, 12, 59, tzinfo=UTC))  # 08:59 EDT
    assert_same(ny_cal.add_business_days(nyc(2026, 3, 6, 10, 0), 1), nyc(2026, 3, 9, 10, 0))
    assert_same(
        ny_cal.next_business_moment(datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        nyc(2026, 3, 9, 9, 0),
    )


def test_new_york_across_fall_back(ny_cal: BusinessCalendar) -> None:
    # DST ends Sunday 2026-11-01 02:00 local (EDT -4 -> EST -5)
    result = ny_cal.add_business_minutes(nyc(2026, 10, 30, 17, 30), 60)
    assert_same(result, nyc(2026, 11, 2, 9, 30))
    assert result.astimezone(UTC) == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


def test_round_the_clock_calendar_counts_real_minutes_on_dst_days() -> None:
    c = BusinessCalendar(
        tz=NEW_YORK,
        working_hours={wd: (time(0), time(0)) for wd in range(7)},
        closed_month_days=frozenset(),
        holiday_country=None,
    )
    assert c.business_minutes_between(nyc(2026, 3, 8), nyc(2026, 3, 9)) == 23 * 60
    assert c.business_minutes_between(nyc(2026, 11, 1), nyc(2026, 11, 2)) == 25 * 60
    assert c.business_minutes_between(nyc(2026, 3, 9), nyc(2026, 3, 10)) == 24 * 60
    # 01:30 + 60 real minutes on spring-forward day is 03:30 EDT
    assert_same(c.add_business_minutes(nyc(2026, 3, 8, 1, 30), 60), nyc(2026, 3, 8, 3, 30))
    assert c.is_business_time(nyc(2026, 3, 8, 0, 0))
    assert c.is_business_time(nyc(2026, 3, 7, 23, 59))


def test_new_york_thanksgiving(ny_cal: BusinessCalendar) -> None:
    assert date(2026, 11, 26).weekday() == 3
    assert not ny_cal.is_business_day(date(2026, 11, 26))
    assert ny_cal.is_business_day(date(2026, 11, 27))
    assert_same(
        ny_cal.add_business_minutes(nyc(2026, 11, 25, 17, 0), 120), nyc(2026, 11, 27, 10, 0)
    )
    assert_same(ny_cal.add_business_days(nyc(2026, 11, 25, 10, 0), 1), nyc(2026, 11, 27, 10, 0))
    assert (
        ny_cal.business_minutes_between(nyc(2026, 11, 25, 17, 0), nyc(2026, 11, 27, 10, 0)) == 120
    )


def test_new_york_ignores_japanese_holidays(ny_cal: BusinessCalendar) -> None:
    assert ny_cal.is_business_day(date(2026, 1, 12))  # 成人の日 in Japan
    assert not ny_cal.is_business_day(date(2026, 1, 19))  # MLK Day


# ------------------------------------------------------------------ guard rails


def test_calendar_without_working_hours_raises() -> None:
    c = BusinessCalendar(tz=TOKYO, working_hours={})
    start = jst(2026, 2, 10, 10, 0)
    assert not c.is_business_day(date(2026, 2, 10))
    assert not c.is_business_time(start)
    with pytest.raises(ValueError, match="calendar has no working hours"):
        c.add_business_minutes(start, 60)
    with pytest.raises(ValueError, match="calendar has no working hours"):
        c.add_business_days(start, 1)
    with pytest.raises(ValueError, match="calendar has no working hours"):
        c.next_business_moment(start)
    with pytest.raises(ValueError, match="calendar has no working hours"):
        c.business_minutes_between(start, start + timedelta(days=7))


def test_calendar_with_every_day_closed_raises_instead_of_looping() -> None:
    every_day = frozenset(
        (d.month, d.day) for d in (date(2024, 1, 1) + timedelta(n) for n in range(366))
    )
    c = BusinessCalendar(tz=TOKYO, closed_month_days=every_day)
    start = jst(2026, 2, 10, 10, 0)
    with pytest.raises(ValueError, match="no business day within"):
        c.add_business_minutes(start, 60)
    with pytest.raises(ValueError, match="no business day within"):
        c.add_business_minutes(start, -60)
    with pytest.raises(ValueError, match="no business day within"):
        c.add_business_days(start, 1)
    with pytest.raises(ValueError, match="no business day within"):
        c.next_business_moment(start)
    assert c.business_minutes_between(start, start + timedelta(days=30)) == 0


NAIVE = datetime(2026, 2, 10, 10, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.is_business_time(NAIVE),
        lambda c: c.next_business_moment(NAIVE),
        lambda c: c.add_business_minutes(NAIVE, 60),
        lambda c: c.add_business_minutes(NAIVE, 0),
        lambda c: c.add_business_days(NAIVE, 3),
        lambda c: c.add_business_days(NAIVE, 0),
        lambda c: c.business_minutes_between(NAIVE, jst(2026, 2, 11)),
        lambda c: c.business_minutes_between(jst(2026, 2, 9), NAIVE),
    ],
)
def test_naive_datetime_raises(cal: BusinessCalendar, call) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(cal)


def test_holidays_are_built_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    bc._holidays_for_year.cache_clear()
    built: list[object] = []
    real = holidays.country_holidays

    def counting(*args, **kwargs):
        if kwargs.get("years") != []:
            built.append(kwargs.get("years"))
        return real(*args, **kwargs)

    monkeypatch.setattr(bc.holidays, "country_holidays", counting)
    c = BusinessCalendar.default()
    for _ in range(3):
        for n in range(365):
            c.is_business_day(date(2026, 1, 1) + timedelta(n))
    c.add_business_minutes(jst(2026, 12, 28, 17, 0), 120)  # touches 2027 as well
    assert built == [2026, 2027]
    bc._holidays_for_year.cache_clear()
