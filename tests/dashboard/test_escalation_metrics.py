"""Escalation figures (docs/metrics.md § Escalations): the steps taken in the period.

Hand-computed on the week of conftest.py, period [06-02 00:00, 06-09 00:00) JST:

| inc | service  | step  | kind      | reason             | applied (JST)    | counted |
|-----|----------|-------|-----------|--------------------|------------------|---------|
| A   | web-shop | c1:L2 | automatic | response_breach    | 06-02 00:15      | yes     |
| A   | web-shop | c1:L3 | manual    | impact_expanding   | 06-02 00:40      | yes     |
| A   | web-shop | c1:N5 | notify    | major_impact       | 06-02 00:40      | yes     |
| B   | web-shop | report:L2 | report | reported          | 06-03 10:00      | no (a report) |
| B   | web-shop | response:warn:50 | warning | response_warning | 06-03 10:07 | no (a warning) |
| B   | web-shop | c1:L2 | manual    | technical_decision | 06-03 10:30      | yes     |
| C   | payments | c1:L2 | automatic | not_recovered      | 06-04 10:20      | yes     |
| D   | web-shop | c1:L2 | manual    | not_recovered      | 06-05 10:45      | yes     |
| H   | web-shop | c1:L2 | manual    | business_decision  | 06-02 00:00 (=since; H was detected before) | yes |
| H   | web-shop | c1:L3 | automatic | not_recovered      | 06-01 23:59:59   | no (before since) |
| I   | web-shop | c1:L2 | automatic | response_breach    | 06-09 00:15      | no (after until) |
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from incidents import escalation, selectors, services
from incidents.models import EscalationStep

from .conftest import SINCE, UNTIL, jst

pytestmark = pytest.mark.django_db

STEPS = [
    ("A", "c1:L2", "automatic", 2, "response_breach", jst(2025, 6, 2, 0, 15)),
    ("A", "c1:L3", "manual", 3, "impact_expanding", jst(2025, 6, 2, 0, 40)),
    ("A", "c1:N5", "notify", 5, "major_impact", jst(2025, 6, 2, 0, 40)),
    ("B", "report:L2", "report", 2, "reported", jst(2025, 6, 3, 10, 0)),
    ("B", "response:warn:50", "warning", None, "response_warning", jst(2025, 6, 3, 10, 7)),
    ("B", "c1:L2", "manual", 2, "technical_decision", jst(2025, 6, 3, 10, 30)),
    ("C", "c1:L2", "automatic", 2, "not_recovered", jst(2025, 6, 4, 10, 20)),
    ("D", "c1:L2", "manual", 2, "not_recovered", jst(2025, 6, 5, 10, 45)),
    ("H", "c1:L2", "manual", 2, "business_decision", SINCE),
    ("H", "c1:L3", "automatic", 3, "not_recovered", SINCE - timedelta(seconds=1)),
    ("I", "c1:L2", "automatic", 2, "response_breach", UNTIL + timedelta(minutes=15)),
]


@pytest.fixture
def steps(week):
    for letter, key, kind, level, reason, applied in STEPS:
        EscalationStep.objects.create(
            incident=week[letter],
            key=key,
            kind=kind,
            level=level,
            reason=reason,
            applied_at=applied,
        )
    return week


def test_steps_taken_in_the_period_by_level_and_reason(steps):
    data = selectors.escalation_metrics(since=SINCE, until=UNTIL)
    assert data["by_level"] == {"L1": 0, "L2": 5, "L3": 1, "L4": 0, "L5": 1}
    assert data["by_reason"] == {
        "not_recovered": 1,  # D, by hand; C's clock step is "automatic"
        "impact_expanding": 1,
        "technical_decision": 1,
        "business_decision": 1,
        "automatic": 3,
    }
    assert data["automatic_by_reason"] == {
        "not_acknowledged": 0,
        "not_recovered": 1,
        "response_breach": 1,
        "major_impact": 1,
        "update_overdue": 0,
    }
    assert data["escalated"] == 7
    assert data["incidents"] == 5  # A, B, C, D, H


def test_service_filter_counts_the_steps_of_that_service_only(steps):
    data = selectors.escalation_metrics(since=SINCE, until=UNTIL, service="web-shop")
    assert data["by_level"] == {"L1": 0, "L2": 4, "L3": 1, "L4": 0, "L5": 1}
    assert data["by_reason"]["automatic"] == 2
    assert data["automatic_by_reason"]["not_recovered"] == 0
    assert (data["escalated"], data["incidents"]) == (6, 4)


def test_no_steps_gives_zeros_not_missing_keys(week):
    data = selectors.escalation_metrics(since=SINCE, until=UNTIL)
    assert set(data["by_level"].values()) == {0}
    assert set(data["by_reason"].values()) == {0}
    assert (data["escalated"], data["incidents"]) == (0, 0)


def test_counts_the_steps_the_engine_records(make_user):
    """A P1 left alone (breach at 15 min → L2, not recovered 30 min later → L3, major impact →
    L5) and a P3 escalated by hand to L2 at 5 min (the clock takes it to L3 30 min later): the
    reports and warnings the engine also records are not escalations."""
    t0 = datetime(2025, 6, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    leader = make_user("ops_leader", username="esc-leader")
    with time_machine.travel(t0, tick=False):
        services.open_incident(
            title="Checkout down",
            source="monitoring",
            impact_scope="all_users",
            business_impact="revenue_loss",
            urgency="immediate",
        )
        p3 = services.open_incident(
            title="Slow search",
            source="monitoring",
            impact_scope="some_users",
            business_impact="minor",
            urgency="immediate",
        )
    with time_machine.travel(t0 + timedelta(minutes=5), tick=False):
        escalation.escalate_incident(
            p3, actor=leader, reason="technical_decision", comment="index rebuild needs a dev"
        )
    with time_machine.travel(t0 + timedelta(minutes=45), tick=False):
        escalation.sweep_deadlines()
    data = selectors.escalation_metrics(since=t0, until=t0 + timedelta(minutes=46))
    assert data["by_level"] == {"L1": 0, "L2": 2, "L3": 2, "L4": 0, "L5": 1}
    assert data["by_reason"] == {
        "not_recovered": 0,
        "impact_expanding": 0,
        "technical_decision": 1,
        "business_decision": 0,
        "automatic": 4,
    }
    # The P1's L3 climb: the leader paged at L2 (at once, §8.3.1) never acknowledged.
    assert data["automatic_by_reason"] == {
        "not_acknowledged": 1,
        "not_recovered": 1,
        "response_breach": 1,
        "major_impact": 1,
        "update_overdue": 0,
    }
    assert (data["escalated"], data["incidents"]) == (5, 2)
