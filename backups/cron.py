"""Five-field cron expressions (minute hour day-of-month month day-of-week), parsed here.

Backup schedules are stored as cron text (§11.2: full at 00:00, differentials at 06/12/18) and
the portal needs the next run (RPO and executor deadlines) and every run inside a day (the
24-hour timeline). Semantics follow Vixie cron: lists, ranges, steps, ``*``; day-of-week 0–7
with 0 and 7 both Sunday; when both day fields are restricted a day matches either of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_NAMES = {
    "month": {
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    "day of week": {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
# A schedule that matches nothing within this many days (e.g. 31 February) is refused.
_HORIZON_DAYS = 366 * 5


class CronError(ValueError):
    """The expression is not a valid five-field cron expression; the message says why."""


def _value(text: str, name: str, low: int, high: int) -> int:
    text = text.lower()
    if text in _NAMES.get(name, {}):
        return _NAMES[name][text]
    if not text.isdigit():
        raise CronError(f"{name}: “{text}” is not a number")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name}: {value} is outside {low}–{high}")
    return value


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{name}: empty list item")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name}: step “{step_text}” must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, name, low, high), _value(b, name, low, high)
            if start > end:
                raise CronError(f"{name}: range {start}-{end} runs backwards")
        else:
            start = _value(base, name, low, high)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = (expression or "").split()
        if len(parts) != 5:
            raise CronError(
                f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
            )
        sets = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        cron = cls(
            expression=" ".join(parts),
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=weekdays,
            day_restricted=parts[2] != "*",
            weekday_restricted=parts[4] != "*",
        )
        if cron.next_after(datetime(2000, 1, 1)) is None:
            raise CronError("the expression never matches a real date")
        return cron

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def times_of_day(self) -> list[time]:
        return [time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]

    def runs_on(self, day: date, tzinfo=None) -> list[datetime]:
        if not self.matches_day(day):
            return []
        return [datetime.combine(day, t, tzinfo=tzinfo) for t in self.times_of_day()]

    def next_after(self, moment: datetime) -> datetime | None:
        """The first run strictly after ``moment`` (same tzinfo, wall-clock time)."""
        day = moment.date()
        for _ in range(_HORIZON_DAYS):
            for run in self.runs_on(day, moment.tzinfo):
                if run > moment:
                    return run
            day += timedelta(days=1)
        return None

    def previous_before(self, moment: datetime) -> datetime | None:
        """The last run at or before ``moment``."""
        day = moment.date()
        for _ in range(_HORIZON_DAYS):
            for run in reversed(self.runs_on(day, moment.tzinfo)):
                if run <= moment:
                    return run
            day -= timedelta(days=1)
        return None


def validate_cron(expression: str) -> None:
    """Django field validator: a readable error for a bad expression."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    try:
        Cron.parse(expression)
    except CronError as exc:
        raise ValidationError(
            _("Invalid cron expression: %(reason)s") % {"reason": exc}, code="invalid_cron"
        ) from exc
