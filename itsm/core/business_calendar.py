"""Business calendar: business days, business hours and SLA arithmetic.

Origin in the seed standard (Japanese operations standard):

* §8.1 -- P4 incidents are answered "within business hours"; the default
  response target is **8 business hours** (``add_business_minutes(t, 8 * 60)``).
* §9.2 -- a *normal* change needs **3 business days** of lead time
  (``add_business_days(t, 3)``), a *major* change **1 week**
  (``add_business_days(t, 5)`` or a plain calendar week, as the policy says).

"Business time" is the working hours of each weekday in the calendar's time
zone (default Mon-Fri 09:00-18:00, Asia/Tokyo), minus public holidays (from the
``holidays`` package, default Japan) and company closures (default the
year-end/new-year break 12/29-1/3).

Everything here is a pure function over an immutable :class:`BusinessCalendar`
so it is fast and testable without a database; the DB models and the loader
that builds a calendar from them live elsewhere.

Conventions:

* All datetimes must be timezone-aware; naive datetimes raise ``ValueError``.
  Results are returned as aware datetimes in ``calendar.tz``.
* A business interval is half-open ``[open, close)``: 18:00 is *not* business
  time, but ``add_business_minutes`` may return exactly 18:00 when the budget
  runs out at closing time.
* Local wall-clock times are built with the zone and compared in UTC, so DST
  transitions (e.g. America/New_York) are handled; business minutes are real
  elapsed minutes.
* ``end == time(0, 0)`` in ``working_hours`` means "until midnight", so
  ``(time(0), time(0))`` is a full 24-hour day. Overnight shifts that wrap past
  midnight are not supported (split them over two weekdays instead).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_CLOSED_MONTH_DAYS",
    "DEFAULT_WORKING_HOURS",
    "MAX_CLOSED_DAYS",
    "BusinessCalendar",
]

#: Mon-Fri 09:00-18:00 (weekday 0 = Monday).
DEFAULT_WORKING_HOURS: Mapping[int, tuple[time, time]] = MappingProxyType(
    {wd: (time(9, 0), time(18, 0)) for wd in range(5)}
)

#: Year-end / new-year closure (年末年始休業), 12/29 - 1/3.
DEFAULT_CLOSED_MONTH_DAYS: frozenset[tuple[int, int]] = frozenset(
    {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}
)

#: Upper bound on consecutive closed days searched before giving up (~10 years).
MAX_CLOSED_DAYS = 3660

YEAR_END_CLOSURE_NAME = "年末年始休業"
CLOSURE_NAME = "休業日"

_ONE_DAY = timedelta(days=1)


@functools.lru_cache(maxsize=64)
def _holiday_language(country: str, subdiv: str | None) -> str | None:
    """Validate country/subdiv (cheap: no years populated) and return its default language."""
    try:
        entity = holidays.country_holidays(country, subdiv=subdiv, years=[])
    except NotImplementedError as exc:
        raise ValueError(str(exc)) from exc
    return entity.default_language


@functools.lru_cache(maxsize=512)
def _holidays_for_year(
    country: str, subdiv: str | None, language: str | None, year: int
) -> Mapping[date, str]:
    """Public holidays of one year as an immutable ``{date: name}`` mapping (cached)."""
    entity = holidays.country_holidays(country, subdiv=subdiv, years=year, language=language)
    return MappingProxyType({d: name for d, name in entity.items() if d.year == year})


def _require_aware(moment: datetime, name: str = "moment") -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours + public holidays + company closures in one time zone."""

    tz: ZoneInfo
    #: weekday (0=Mon) -> (start, end) local wall time; missing weekday = closed.
    working_hours: Mapping[int, tuple[time, time]] = field(
        default_factory=lambda: dict(DEFAULT_WORKING_HOURS)
    )
    #: one-off company closed days, already expanded for the years needed.
    closed_dates: frozenset[date] = frozenset()
    #: recurring yearly (month, day) closures.
    closed_month_days: frozenset[tuple[int, int]] = DEFAULT_CLOSED_MONTH_DAYS
    #: ISO country code for the ``holidays`` package; None = no public holidays.
    holiday_country: str | None = "JP"
    holiday_subdiv: str | None = None
    #: language of holiday names; None = the country's default (ja for JP).
    holiday_language: str | None = None

    # ------------------------------------------------------------------ setup

    def __post_init__(self) -> None:
        tz = self.tz
        if isinstance(tz, str):
            tz = ZoneInfo(tz)
        if not isinstance(tz, tzinfo):
            raise TypeError(f"tz must be a ZoneInfo, not {type(tz).__name__}")
        object.__setattr__(self, "tz", tz)

        hours: dict[int, tuple[time, time]] = {}
        for weekday, span in dict(self.working_hours).items():
            if not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"working_hours weekday must be 0 (Mon)..6 (Sun), got {weekday!r}")
            start, end = span
            if not isinstance(start, time) or not isinstance(end, time):
                raise TypeError(f"working_hours[{weekday}] must be a (time, time) pair")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(f"working_hours[{weekday}] must use naive (local) times")
            if end != time(0) and end <= start:
                raise ValueError(
                    f"working_hours[{weekday}]: end {end} must be after start {start} "
                    "(use time(0) for midnight)"
                )
            hours[weekday] = (start, end)
        object.__setattr__(self, "working_hours", MappingProxyType(dict(sorted(hours.items()))))

        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        month_days = frozenset((int(m), int(d)) for m, d in self.closed_month_days)
        for m, d in month_days:
            if not 1 <= m <= 12 or not 1 <= d <= 31:
                raise ValueError(f"closed_month_days entry ({m}, {d}) is not a valid month/day")
        object.__setattr__(self, "closed_month_days", month_days)

        if self.holiday_country:
            default_language = _holiday_language(self.holiday_country, self.holiday_subdiv)
            if self.holiday_language is None:
                object.__setattr__(self, "holiday_language", default_language)

    def __hash__(self) -> int:
        return hash(
            (
                str(self.tz),
                tuple(self.working_hours.items()),
                self.closed_dates,
                self.closed_month_days,
                self.holiday_country,
                self.holiday_subdiv,
                self.holiday_language,
            )
        )

    @classmethod
    def default(cls, tz_name: str = "Asia/Tokyo") -> BusinessCalendar:
        """Seed-standard calendar: Mon-Fri 09:00-18:00, JP holidays, 12/29-1/3 closed."""
        return cls(
            tz=ZoneInfo(tz_name),
            working_hours=dict(DEFAULT_WORKING_HOURS),
            closed_month_days=DEFAULT_CLOSED_MONTH_DAYS,
            holiday_country="JP",
        )

    # ------------------------------------------------------------- day level

    def _public_holiday(self, d: date) -> str | None:
        if not self.holiday_country:
            return None
        return _holidays_for_year(
            self.holiday_country, self.holiday_subdiv, self.holiday_language, d.year
        ).get(d)

    @staticmethod
    def _as_date(d: date) -> date:
        if isinstance(d, datetime):
            raise TypeError("expected a date, got a datetime (use is_business_time)")
        if not isinstance(d, date):
            raise TypeError(f"expected a date, got {type(d).__name__}")
        return d

    def is_business_day(self, d: date) -> bool:
        """True if ``d`` has working hours and is neither a closure nor a public holiday."""
        d = self._as_date(d)
        return (
            d.weekday() in self.working_hours
            and d not in self.closed_dates
            and (d.month, d.day) not in self.closed_month_days
            and self._public_holiday(d) is None
        )

    def holiday_name(self, d: date) -> str | None:
        """Name of the public holiday or company closure on ``d`` (for the UI), else None.

        Public holidays win over closures (1/1 is "元日", not "年末年始休業").
        Ordinary weekends return None.
        """
        d = self._as_date(d)
        name = self._public_holiday(d)
        if name is not None:
            return name
        if (d.month, d.day) in self.closed_month_days:
            if (d.month, d.day) in DEFAULT_CLOSED_MONTH_DAYS:
                return YEAR_END_CLOSURE_NAME
            return CLOSURE_NAME
        if d in self.closed_dates:
            return CLOSURE_NAME
        return None

    # -------------------------------------------------------- interval level

    def _require_hours(self) -> None:
        if not self.working_hours:
            raise ValueError("calendar has no working hours")

    def _local(self, d: date, t: time) -> datetime:
        """Aware UTC datetime for local wall time ``t`` on ``d`` (DST gaps resolved forward)."""
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC)

    def _interval(self, d: date) -> tuple[datetime, datetime] | None:
        """Business interval ``[open, close)`` of local date ``d`` in UTC, or None if closed."""
        if not self.is_business_day(d):
            return None
        start, end = self.working_hours[d.weekday()]
        opening = self._local(d, start)
        closing = self._local(d + _ONE_DAY, time(0)) if end == time(0) else self._local(d, end)
        if closing <= opening:  # only possible inside a pathological DST gap
            return None
        return opening, closing

    def _intervals(
        self, first: date, *, forward: bool = True, last: date | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """Business intervals from local date ``first`` onwards (or backwards).

        Stops after ``last`` if given; otherwise raises ValueError after
        ``MAX_CLOSED_DAYS`` consecutive closed days.
        """
        self._require_hours()
        step = _ONE_DAY if forward else -_ONE_DAY
        d = first
        closed_run = 0
        while True:
            if last is not None and (d > last if forward else d < last):
                return
            interval = self._interval(d)
            if interval is None:
                closed_run += 1
                if last is None and closed_run > MAX_CLOSED_DAYS:
                    raise ValueError(
                        f"no business day within {MAX_CLOSED_DAYS} days of {first.isoformat()}"
                    )
            else:
                closed_run = 0
                yield interval
            d += step

    def _local_date(self, moment_utc: datetime) -> date:
        return moment_utc.astimezone(self.tz).date()

    # ------------------------------------------------------------ moment API

    def is_business_time(self, moment: datetime) -> bool:
        """True if the aware ``moment`` (any tz) falls in business hours of ``self.tz``."""
        _require_aware(moment)
        m = moment.astimezone(UTC)
        interval = self._interval(self._local_date(m))
        return interval is not None and interval[0] <= m < interval[1]

    def next_business_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if in business time, else the next opening (in ``self.tz``)."""
        _require_aware(moment)
        m = moment.astimezone(UTC)
        for opening, closing in self._intervals(self._local_date(m)):
            if m < closing:
                return max(opening, m).astimezone(self.tz)
        raise AssertionError("unreachable")  # pragma: no cover

    def add_business_minutes(self, start: datetime, minutes: int) -> datetime:
        """``start`` plus ``minutes`` of business time, in ``self.tz``.

        Counting starts at the next opening when ``start`` is outside business
        hours. ``minutes == 0`` returns ``start`` (same instant) if it is business
        time, else the next opening. If the budget is used up exactly at closing
        time the closing instant (e.g. 18:00) is returned. Negative ``minutes``
        count backwards (from the previous closing when outside hours).
        """
        _require_aware(start, "start")
        s = start.astimezone(UTC)
        remaining = timedelta(minutes=abs(minutes))
        if minutes >= 0:
            for opening, closing in self._intervals(self._local_date(s)):
                begin = max(opening, s)
                if begin >= closing:
                    continue
                if remaining <= closing - begin:
                    return (begin + remaining).astimezone(self.tz)
                remaining -= closing - begin
        else:
            for opening, closing in self._intervals(self._local_date(s), forward=False):
                finish = min(closing, s)
                if finish <= opening:
                    continue
                if remaining <= finish - opening:
                    return (finish - remaining).astimezone(self.tz)
                remaining -= finish - opening
        raise AssertionError("unreachable")  # pragma: no cover

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """Same local time-of-day on the ``days``-th following business day, in ``self.tz``.

        ("3 business days later".) ``start`` itself need not be a business day.
        If that time-of-day is outside the target day's hours it is clamped into
        them: after closing -> the closing time, before opening -> the opening
        time. ``days == 0`` returns ``start`` (same instant); negative ``days``
        count backwards.
        """
        _require_aware(start, "start")
        self._require_hours()
        local = start.astimezone(self.tz)
        if days == 0:
            return local
        step = _ONE_DAY if days > 0 else -_ONE_DAY
        d = local.date()
        remaining = abs(days)
        closed_run = 0
        while remaining:
            d += step
            if self.is_business_day(d):
                remaining -= 1
                closed_run = 0
            else:
                closed_run += 1
                if closed_run > MAX_CLOSED_DAYS:
                    raise ValueError(
                        f"no business day within {MAX_CLOSED_DAYS} days of {local.date()}"
                    )
        interval = self._interval(d)
        target = self._local(d, local.time())
        if interval is not None:
            opening, closing = interval
            if target >= closing:
                target = closing
            elif target < opening:
                target = opening
        return target.astimezone(self.tz)

    def business_intervals(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """The business intervals ``[open, close)`` overlapping ``[a, b)``, clipped to it (UTC)."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        if b_utc <= a_utc or not self.working_hours:
            return []
        return [
            (max(opening, a_utc), min(closing, b_utc))
            for opening, closing in self._intervals(
                self._local_date(a_utc), last=self._local_date(b_utc)
            )
            if closing > a_utc and opening < b_utc
        ]

    def closed_days(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """Whole local days that are not business days (weekends, holidays, closures)
        overlapping ``[a, b)``, as ``[midnight, next midnight)`` clipped to it (UTC)."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        days, d, last = [], self._local_date(a_utc), self._local_date(b_utc)
        while d <= last:
            if not self.is_business_day(d):
                start, end = self._local(d, time(0)), self._local(d + _ONE_DAY, time(0))
                if end > a_utc and start < b_utc:
                    days.append((max(start, a_utc), min(end, b_utc)))
            d += _ONE_DAY
        return days

    def business_minutes_between(self, a: datetime, b: datetime) -> int:
        """Whole business minutes in ``[a, b)`` (truncated); negative if ``b < a``."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        self._require_hours()
        if b < a:
            return -self.business_minutes_between(b, a)
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta(0)
        for opening, closing in self._intervals(
            self._local_date(a_utc), last=self._local_date(b_utc)
        ):
            overlap = min(closing, b_utc) - max(opening, a_utc)
            if overlap > timedelta(0):
                total += overlap
        return int(total.total_seconds() // 60)


# --- The portal's configured calendar (admin-editable data) --------------------------------

_loaded: dict[str, object] = {}


CALENDAR_VERSION = "business-calendar-version"


def current_calendar() -> BusinessCalendar:
    """The calendar built from the WorkingHours and ClosedDay rows and settings.

    Cached per process and rebuilt when the shared cache's version changes (bumped by
    :func:`invalidate_calendar` whenever an admin edits the rows).
    """
    from django.conf import settings

    from .cache import shared_version
    from .models import ClosedDay, WorkingHours

    version = shared_version(CALENDAR_VERSION)
    if _loaded.get("version") == version and "calendar" in _loaded:
        return _loaded["calendar"]  # type: ignore[return-value]
    hours = {w.weekday: (w.start, w.end) for w in WorkingHours.objects.all()}
    closed = list(ClosedDay.objects.all())
    calendar = BusinessCalendar(
        tz=ZoneInfo(settings.TIME_ZONE),
        working_hours=hours or DEFAULT_WORKING_HOURS,
        closed_dates=frozenset(date(c.year, c.month, c.day) for c in closed if c.year),
        closed_month_days=frozenset((c.month, c.day) for c in closed if not c.year),
        holiday_country=settings.HOLIDAY_COUNTRY or None,
    )
    _loaded.update(version=version, calendar=calendar)
    return calendar


def invalidate_calendar(**kwargs) -> None:
    from .cache import bump_version

    _loaded.clear()
    bump_version(CALENDAR_VERSION)
