"""The resolution clock explained (issue 18 part 2): business hours, JST public holidays, the
year-end closure, holds; the counted intervals sum exactly to the elapsed SLA time whatever the
schedule. Every instant is frozen (JST)."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from incidents import services, sla
from incidents.choices import HoldReason, SlaStatus
from incidents.models import Hold, ResolutionTarget
from itsm.core.business_calendar import current_calendar

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def incident(priority: str, detected: datetime, recovered: datetime | None = None):
    with time_machine.travel(detected, tick=False):
        inc = services.open_incident(title="Checkout slow", source="monitoring", priority=priority)
    if recovered:
        inc.recovered_at = recovered
        inc.save(update_fields=["recovered_at"])
    return inc


def hold(inc, start: datetime, end: datetime | None, reason=HoldReason.WAITING_FOR_VENDOR):
    return Hold.objects.create(incident=inc, reason=reason, started_at=start, ended_at=end)


def rows(explanation):
    return [
        (i.start.astimezone(JST).strftime("%m-%d %H:%M"), round(i.minutes), i.reason, i.detail)
        for i in explanation.intervals
    ]


def test_resolution_targets_are_seeded_as_data():
    seeded = {t.priority: (t.minutes, t.clock) for t in ResolutionTarget.objects.all()}
    assert seeded == {
        "P1": (240, "24x7"),
        "P2": (480, "24x7"),
        "P3": (1620, "business"),
        "P4": (2700, "business"),
    }


def test_a_missing_row_falls_back_to_the_default():
    ResolutionTarget.objects.filter(priority="P1").delete()
    target = sla.resolution_target("P1")
    assert (target.minutes, target.clock, target.pk) == (240, "24x7", None)


def test_triage_sets_the_resolution_deadline_on_the_business_clock():
    # Monday 17:00, P3 = 3 business days (1,620 business minutes) → Thursday 17:00.
    inc = incident("P3", at(2026, 11, 9, 17, 0))
    assert inc.resolution_due_at == at(2026, 11, 12, 17, 0)


def test_business_hours_and_a_public_holiday_are_not_counted():
    # Monday 17:00 → Wednesday 10:00; Tuesday 3 November 2026 is 文化の日.
    inc = incident("P3", at(2026, 11, 2, 17, 0))
    explanation = sla.explain(inc, now=at(2026, 11, 4, 10, 0))
    assert rows(explanation) == [
        ("11-02 17:00", 60, sla.COUNTED, ""),
        ("11-02 18:00", 360, sla.OUTSIDE_HOURS, ""),
        ("11-03 00:00", 1440, sla.HOLIDAY, "文化の日"),
        ("11-04 00:00", 540, sla.OUTSIDE_HOURS, ""),
        ("11-04 09:00", 60, sla.COUNTED, ""),
    ]
    assert explanation.counted == timedelta(minutes=120)
    assert explanation.status == SlaStatus.ON_TRACK
    assert "文化の日" in explanation.intervals[2].label
    # 1,500 business minutes left from Wednesday 10:00: Wed 480, Thu 540, Fri 480 → Fri 17:00.
    assert explanation.due_at == at(2026, 11, 6, 17, 0)


def test_the_24x7_clock_is_paused_only_by_holds():
    inc = incident("P1", at(2026, 12, 12, 23, 0), recovered=at(2026, 12, 13, 2, 0))  # a Saturday
    hold(inc, at(2026, 12, 13, 0, 0), at(2026, 12, 13, 0, 30), HoldReason.MONITORING)
    explanation = sla.explain(inc, now=at(2026, 12, 14, 9, 0))
    assert rows(explanation) == [
        ("12-12 23:00", 60, sla.COUNTED, ""),
        ("12-13 00:00", 30, sla.ON_HOLD, "monitoring"),
        ("12-13 00:30", 90, sla.COUNTED, ""),
    ]
    assert explanation.counted == timedelta(minutes=150)
    assert explanation.paused == timedelta(minutes=30)
    assert explanation.due_at == at(2026, 12, 13, 3, 30)  # 4 h + the 30 min on hold
    assert explanation.status == SlaStatus.MET


def test_a_hold_over_the_year_end_closure():
    # Friday 25 Dec 10:00, P3; on hold from Monday 28 Dec 10:00 to Tuesday 5 Jan 10:00.
    inc = incident("P3", at(2026, 12, 25, 10, 0))
    hold(inc, at(2026, 12, 28, 10, 0), at(2027, 1, 5, 10, 0), HoldReason.WAITING_FOR_REQUESTER)
    explanation = sla.explain(inc, now=at(2027, 1, 5, 12, 0))
    assert rows(explanation)[-3:] == [
        ("12-28 09:00", 60, sla.COUNTED, ""),
        ("12-28 10:00", 8 * 24 * 60, sla.ON_HOLD, "waiting_for_requester"),
        ("01-05 10:00", 120, sla.COUNTED, ""),
    ]
    assert explanation.counted == timedelta(minutes=480 + 60 + 120)
    assert explanation.paused == timedelta(days=8)
    # 960 business minutes left at Tue 12:00: Tue 360, Wed 540, Thu 60 → Thu 7 Jan 10:00.
    assert explanation.due_at == at(2027, 1, 7, 10, 0)


def test_the_year_end_closure_and_new_year_holiday_are_named():
    inc = incident("P4", at(2026, 12, 28, 17, 0))
    explanation = sla.explain(inc, now=at(2027, 1, 4, 10, 0))
    names = [i.detail for i in explanation.intervals if i.reason == sla.HOLIDAY]
    assert names[0] == "年末年始休業" and "元日" in names
    assert explanation.counted == timedelta(minutes=60 + 60)


def test_a_breach_is_where_the_counted_time_passes_the_target():
    inc = incident("P2", at(2026, 12, 9, 9, 0))
    explanation = sla.explain(inc, now=at(2026, 12, 9, 18, 0))
    assert explanation.status == SlaStatus.BREACHED
    assert explanation.due_at == at(2026, 12, 9, 17, 0)


def _union_overlap(spans, a, b) -> timedelta:
    return sum((max(min(e, b) - max(s, a), timedelta(0)) for s, e in spans), timedelta(0))


@pytest.mark.parametrize("seed", range(40))
def test_the_counted_intervals_sum_exactly_to_the_elapsed_time(seed):
    rng = random.Random(seed)
    priority = rng.choice(["P1", "P2", "P3", "P4"])
    base = at(2026, 12, 1, 0, 0) + timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
    detected = base + timedelta(seconds=rng.randrange(60), microseconds=rng.randrange(10**6))
    inc = incident(priority, detected)
    holds, cursor = [], detected - timedelta(hours=rng.randrange(0, 5))
    for _ in range(rng.randrange(0, 5)):
        start = cursor + timedelta(minutes=rng.randrange(1, 3 * 24 * 60))
        end = start + timedelta(minutes=rng.randrange(1, 5 * 24 * 60), seconds=rng.randrange(60))
        holds.append((start, end))
        cursor = end
    running = rng.random() < 0.3 and holds
    for i, (start, end) in enumerate(holds):
        last = i == len(holds) - 1
        hold(inc, start, None if running and last else end, rng.choice(HoldReason.values))
    now = max(detected, cursor if holds else detected) + timedelta(
        minutes=rng.randrange(0, 4 * 24 * 60)
    )
    if running:
        holds[-1] = (holds[-1][0], now)
    if rng.random() < 0.4:
        inc.recovered_at = detected + (now - detected) * rng.random()
    explanation = sla.explain(inc, now=now)

    end = inc.recovered_at or now
    # A partition of [clock start, end): contiguous, no gap, no overlap.
    assert explanation.intervals[0].start == detected if end > detected else True
    for left, right in zip(explanation.intervals, explanation.intervals[1:], strict=False):
        assert left.end == right.start
    total = sum((i.duration for i in explanation.intervals), timedelta(0))
    assert total == max(end - detected, timedelta(0))
    # Counted time is exactly the clock's time minus the holds, computed another way.
    clipped = [(max(s, detected), min(e, end)) for s, e in holds]
    if sla.resolution_target(priority).business:
        business = current_calendar().business_intervals(detected, end)
        expected = sum((b - a for a, b in business), timedelta(0)) - sum(
            (_union_overlap(clipped, a, b) for a, b in business), timedelta(0)
        )
    else:
        expected = max(end - detected, timedelta(0)) - _union_overlap(clipped, detected, end)
    assert explanation.counted == expected
    assert sum((i.duration for i in explanation.intervals if i.counted), timedelta(0)) == (
        explanation.elapsed
    )
    assert explanation.paused == _union_overlap(clipped, detected, end)
    # The deadline: before it the counted time is under the target, after it over.
    target = timedelta(minutes=explanation.target_minutes)
    if explanation.counted > target:
        assert explanation.status == SlaStatus.BREACHED and explanation.due_at <= end
    elif explanation.counted == target:  # reached exactly, nothing counted since: not breached
        assert explanation.status != SlaStatus.BREACHED and explanation.due_at <= end
    else:
        assert explanation.due_at >= end.astimezone(UTC) - timedelta(microseconds=1)
