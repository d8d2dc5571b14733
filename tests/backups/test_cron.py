from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from backups.cron import Cron, CronError

TOKYO = ZoneInfo("Asia/Tokyo")


def at(*args):
    return datetime(*args, tzinfo=TOKYO)


def test_seed_differential_runs_at_six_noon_and_eighteen():
    cron = Cron.parse("0 6,12,18 * * *")
    assert cron.next_after(at(2026, 5, 1, 0, 0)) == at(2026, 5, 1, 6, 0)
    assert cron.next_after(at(2026, 5, 1, 6, 0)) == at(2026, 5, 1, 12, 0)
    assert cron.next_after(at(2026, 5, 1, 18, 0)) == at(2026, 5, 2, 6, 0)


def test_previous_run_is_at_or_before_the_moment():
    cron = Cron.parse("0 0 * * *")
    assert cron.previous_before(at(2026, 5, 1, 0, 0)) == at(2026, 5, 1, 0, 0)
    assert cron.previous_before(at(2026, 5, 1, 23, 59)) == at(2026, 5, 1, 0, 0)


def test_steps_ranges_and_names():
    cron = Cron.parse("*/15 9-17 * * mon-fri")
    assert cron.next_after(at(2026, 5, 1, 17, 50)) == at(2026, 5, 4, 9, 0)  # Fri → Mon
    assert len(cron.runs_on(date(2026, 5, 4))) == 9 * 4


def test_sunday_is_zero_or_seven():
    assert Cron.parse("0 3 * * 7").next_after(at(2026, 5, 1, 0, 0)) == at(2026, 5, 3, 3, 0)
    assert Cron.parse("0 3 * * 0").next_after(at(2026, 5, 1, 0, 0)) == at(2026, 5, 3, 3, 0)


def test_restricted_day_of_month_and_weekday_match_either():
    cron = Cron.parse("0 0 1 * sun")  # the 1st, or any Sunday
    assert cron.next_after(at(2026, 5, 1, 0, 0)) == at(2026, 5, 3, 0, 0)
    assert cron.next_after(at(2026, 5, 31, 0, 0)) == at(2026, 6, 1, 0, 0)


def test_leap_day_schedule_finds_the_next_leap_year():
    assert Cron.parse("0 0 29 2 *").next_after(at(2026, 3, 1)) == at(2028, 2, 29, 0, 0)


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "0 0 * *",
        "60 0 * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "*/0 * * * *",
        "5-1 * * * *",
        "x * * * *",
        "0 0 31 2 *",
        "0 0 * * * *",
        "1,,2 * * * *",
    ],
)
def test_invalid_expressions_are_refused_with_a_reason(expression):
    with pytest.raises(CronError):
        Cron.parse(expression)
