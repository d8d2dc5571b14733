"""The resolution clock explained (issue 18 part 2): which stretches of an incident's life counted
towards its resolution target, which did not and why.

``explain(incident, now=…, calendar=…)`` is a pure function of the incident, its holds and the
business calendar: it cuts ``[clock_from, recovered_at or now)`` into intervals, each *counted* or
*not counted* with its reason (outside business hours, a public holiday or company closure by
name, on hold with the hold's reason). The counted intervals sum exactly to the elapsed SLA time
(``Explanation.counted``); the deadline (``due_at``) is where the counted time reaches the
target. On the 24×7 clock only holds pause. docs/sla.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core.business_calendar import BusinessCalendar, current_calendar

from .choices import HoldReason, SlaStatus
from .models import ResolutionTarget, resolution_due_for, resolution_target

COUNTED = "counted"
OUTSIDE_HOURS = "outside_business_hours"
HOLIDAY = "holiday"
ON_HOLD = "on_hold"

_ZERO = timedelta(0)


# The target of a priority and its deadline without holds (re-exported for callers).
__all__ = ["explain", "resolution_due_for", "resolution_target", "sla_context"]


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime
    counted: bool
    reason: str  # COUNTED, OUTSIDE_HOURS, HOLIDAY, ON_HOLD
    detail: str = ""  # the holiday's name, the hold's reason code

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def minutes(self) -> float:
        return self.duration.total_seconds() / 60

    @property
    def label(self) -> str:
        if self.reason == COUNTED:
            return _("Counted")
        if self.reason == HOLIDAY:
            return _("Holiday: %(name)s") % {"name": self.detail}
        if self.reason == ON_HOLD:
            reason = HoldReason(self.detail).label if self.detail in HoldReason.values else ""
            return _("On hold: %(reason)s") % {"reason": reason}
        return _("Outside business hours")


@dataclass(frozen=True)
class Explanation:
    start: datetime
    end: datetime
    recovered: bool
    on_hold: bool
    target: ResolutionTarget | None
    intervals: list[Interval] = field(default_factory=list)
    due_at: datetime | None = None
    running_hold: object | None = None  # the Hold pausing the clock now, if any

    @property
    def counted(self) -> timedelta:
        """The elapsed SLA time: the sum of the counted intervals, exactly."""
        return sum((i.duration for i in self.intervals if i.counted), _ZERO)

    elapsed = counted

    @property
    def paused(self) -> timedelta:
        return sum((i.duration for i in self.intervals if i.reason == ON_HOLD), _ZERO)

    @property
    def not_counted(self) -> timedelta:
        return sum((i.duration for i in self.intervals if not i.counted), _ZERO)

    @property
    def counted_minutes(self) -> float:
        return self.counted.total_seconds() / 60

    @property
    def paused_minutes(self) -> float:
        return self.paused.total_seconds() / 60

    @property
    def target_minutes(self) -> int | None:
        return self.target.minutes if self.target else None

    @property
    def status(self) -> str:
        if self.target is None:
            return SlaStatus.PENDING
        over = self.counted > timedelta(minutes=self.target.minutes)
        if over:
            return SlaStatus.BREACHED
        return SlaStatus.MET if self.recovered else SlaStatus.ON_TRACK


def _holds(all_holds, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    rows = []
    for hold in all_holds:
        a = max(hold.started_at, start)
        b = min(hold.ended_at or end, end)
        if b > a:
            rows.append((a.astimezone(UTC), b.astimezone(UTC), hold.reason))
    return sorted(rows)


def explain(
    incident, *, now: datetime | None = None, calendar: BusinessCalendar | None = None
) -> Explanation:
    """Cut the resolution clock's span into labelled intervals (see the module docstring)."""
    now = now or timezone.now()
    target = resolution_target(incident.priority)
    business = target is not None and target.business
    if business and calendar is None:
        calendar = current_calendar()
    start = incident.clock_from.astimezone(UTC)
    end = max((incident.recovered_at or now).astimezone(UTC), start)
    all_holds = list(incident.holds.all())
    holds = _holds(all_holds, start, end)
    running = next((h for h in all_holds if h.ended_at is None), None)
    on_hold = incident.recovered_at is None and running is not None

    cuts = {start, end}
    for a, b, _reason in holds:
        cuts.update((a, b))
    open_spans, closed = [], []
    if business:
        open_spans = calendar.business_intervals(start, end)
        for a, b in open_spans:
            cuts.update((a, b))
        for a, b in calendar.closed_days(start, end):
            cuts.update((a, b))
            closed.append((a, b, calendar.holiday_name(a.astimezone(calendar.tz).date()) or ""))

    points = sorted(cuts)
    intervals: list[Interval] = []
    for a, b in zip(points, points[1:], strict=False):
        hold = next((h for h in holds if h[0] <= a and b <= h[1]), None)
        if hold is not None:
            piece = Interval(a, b, False, ON_HOLD, hold[2])
        elif not business or any(o <= a and b <= c for o, c in open_spans):
            piece = Interval(a, b, True, COUNTED)
        else:
            name = next((n for c, d, n in closed if c <= a and b <= d), "")
            piece = Interval(a, b, False, HOLIDAY if name else OUTSIDE_HOURS, name)
        last = intervals[-1] if intervals else None
        if last and (last.counted, last.reason, last.detail) == (
            piece.counted,
            piece.reason,
            piece.detail,
        ):
            intervals[-1] = Interval(last.start, b, last.counted, last.reason, last.detail)
        else:
            intervals.append(piece)

    due_at = None
    if target is not None:
        budget = timedelta(minutes=target.minutes)
        for piece in intervals:
            if not piece.counted:
                continue
            if piece.duration >= budget:
                due_at = piece.start + budget
                break
            budget -= piece.duration
        else:
            due_at = target.advance(end, budget, calendar)
    tz = timezone.get_current_timezone()
    return Explanation(
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        recovered=incident.recovered_at is not None,
        on_hold=on_hold,
        target=target,
        intervals=[
            Interval(i.start.astimezone(tz), i.end.astimezone(tz), i.counted, i.reason, i.detail)
            for i in intervals
        ],
        due_at=due_at.astimezone(tz) if due_at else None,
        running_hold=running if on_hold else None,
    )


def sla_context(request, incident) -> dict | None:
    """The incident page's "Resolution clock" panel (``incidents.panels``); nothing before
    triage (no priority, no target)."""
    if not incident.priority:
        return None
    explanation = explain(incident)
    return {
        "sla": explanation,
        "hold": explanation.running_hold,
        "reasons": HoldReason.choices,
        "can_hold": bool(getattr(request, "user", None))
        and request.user.has_perm("incidents.change_incident")
        and incident.is_open
        and incident.recovered_at is None,
    }
