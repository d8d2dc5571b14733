"""Each incident metric against the hand-computed week in conftest.py (docs/metrics.md)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import selectors
from incidents.models import Incident
from intake import acceptance, parsing
from itsm.core.stats import percentile_cont
from tests.intake.helpers import event, integration_fixture, process  # noqa: F401

from .conftest import NOW, SINCE, UNTIL, jst, make_incident

pytestmark = pytest.mark.django_db


def metrics(**kwargs):
    return selectors.incident_metrics(since=SINCE, until=UNTIL, now=NOW, **kwargs)


def test_the_fixture_is_what_the_table_says(week):
    assert week["R"].state == "investigating"
    assert week["R"].recovered_at is None  # reopening undid the recovery
    assert week["R"].response_started_at == jst(2025, 6, 4, 9, 30)
    # P4 counts on the business calendar: Fri 17:00 + 8 business hours = Mon 16:00
    assert week["E"].response_due_at == jst(2025, 6, 9, 16, 0)


def test_period_includes_since_and_excludes_until(week):
    data = metrics()
    assert data["overall"]["total"] == 8  # A–G and R; H is a second early, I starts at until
    assert data["by_priority"]["P1"]["total"] == 3
    assert data["untriaged_total"] == 1


def test_response_sla_compliance_per_priority(week):
    data = metrics()
    p1, p2, p4 = (data["by_priority"][p] for p in ("P1", "P2", "P4"))
    assert (p1["met"], p1["breached"], p1["compliance"]) == (2, 1, 0.6667)
    assert (p2["met"], p2["breached"], p2["compliance"]) == (0, 1, 0.0)
    assert data["by_priority"]["P3"]["compliance"] == 1.0
    assert data["overall"]["met"] == 4 and data["overall"]["breached"] == 3
    assert data["overall"]["compliance"] == 0.5714


def test_p4_is_judged_on_the_business_clock_not_the_wall_clock(week):
    p4 = metrics()["by_priority"]["P4"]
    # E answered 70 wall-clock hours after detection and still met its 8 business hours.
    assert (p4["met"], p4["breached"], p4["compliance"]) == (1, 1, 0.5)
    assert p4["mtta_p50"] == 4260.0  # median of 4200 and 4320 minutes


def test_mtta_and_mttr_median_and_p90(week):
    data = metrics()
    p1 = data["by_priority"]["P1"]
    assert (p1["mtta_p50"], p1["mtta_p90"]) == (10.0, 18.0)
    assert (p1["mttr_p50"], p1["mttr_p90"]) == (60.0, 108.0)
    overall = data["overall"]
    assert (overall["mtta_n"], overall["mtta_p50"], overall["mtta_p90"]) == (6, 25.0, 4260.0)
    assert (overall["mttr_n"], overall["mttr_p50"], overall["mttr_p90"]) == (3, 60.0, 108.0)


def test_a_reopened_incident_has_no_recovery_time_until_it_recovers_again(week):
    p3 = metrics()["by_priority"]["P3"]
    assert p3["mtta_p50"] == 30.0
    assert p3["mttr_n"] == 0 and p3["mttr_p50"] is None
    assert p3["open"] == 1


def test_service_filter(week):
    data = metrics(service="payments")
    assert data["overall"]["total"] == 2  # C and R
    assert data["by_priority"]["P1"]["mttr_p50"] == 30.0


def test_states_by_priority(week):
    data = metrics()
    assert data["by_state"]["investigating"] == 3  # E, F and the reopened R
    assert data["by_priority_state"]["P1"]["verifying"] == 3
    assert data["by_state"]["detected"] == 1


def test_trend_has_one_point_per_day_with_stacked_counts(week):
    trend = metrics()["trend"]
    assert [p["day"] for p in trend] == [f"2025-06-0{d}" for d in range(2, 9)]
    june3 = trend[1]
    assert june3["mtta_p50"] == 20.0 and june3["compliance"] == 0.0
    june6 = trend[4]
    assert june6["by_priority"]["P4"] == 2 and june6["compliance"] == 0.5
    assert trend[5]["by_priority"]["untriaged"] == 1
    assert trend[6]["mtta_p50"] is None and trend[6]["compliance"] is None  # no incidents


def test_no_data_gives_empty_figures_not_errors(db):
    data = metrics()
    assert data["overall"]["total"] == 0
    assert data["overall"]["compliance"] is None
    assert data["overall"]["mtta_p50"] is None
    assert data["by_priority"]["P1"]["total"] == 0
    assert len(data["trend"]) == 7


def test_waiting_incident_counts_as_breached_only_once_its_due_time_passed(db):
    detected = jst(2025, 6, 8, 23, 50)
    make_incident("P1", detected)  # due 00:05 on 06-09
    before = selectors.incident_metrics(since=SINCE, until=UNTIL, now=jst(2025, 6, 9, 0, 0))
    after = selectors.incident_metrics(since=SINCE, until=UNTIL, now=jst(2025, 6, 9, 0, 6))
    assert (before["overall"]["on_track"], before["overall"]["breached"]) == (1, 0)
    assert (after["overall"]["on_track"], after["overall"]["breached"]) == (0, 1)


def test_query_count_does_not_grow_with_rows(week):
    with CaptureQueriesContext(connection) as few:
        metrics()
    for i in range(20):
        t = jst(2025, 6, 3, 12, 0) + timedelta(minutes=i)
        make_incident("P2", t, t + timedelta(minutes=3), t + timedelta(minutes=9))
    with CaptureQueriesContext(connection) as many:
        metrics()
    assert len(many) == len(few) <= 8


def test_percentile_cont_interpolates_like_postgresql():
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([7.0], 0.9) == 7.0
    assert percentile_cont([5, 10, 20], 0.9) == 18.0
    assert percentile_cont([1, 2, 3, 4], 0.5) == 2.5


def test_postmortem_completion_within_due(week, make_user):
    from incidents.models import Postmortem

    owner = make_user("ops_leader", username="pm-owner")
    due = jst(2025, 6, 5, 18, 0)

    def pm(incident, *, due_at, state="draft", published_at=None, kind="postmortem"):
        return Postmortem.objects.create(
            incident=incident,
            kind=kind,
            mandatory=True,
            owner=owner,
            due_at=due_at,
            state=state,
            published_at=published_at,
        )

    pm(week["A"], due_at=due, state="published", published_at=due - timedelta(hours=1))
    pm(week["B"], due_at=due, state="published", published_at=due + timedelta(hours=1))
    pm(week["C"], due_at=due)  # overdue, unpublished
    pm(week["D"], due_at=jst(2025, 6, 20, 18, 0))  # due after the period: not counted
    pm(week["E"], due_at=due, kind="review")  # P4 review: not a P1/P2 postmortem
    with time_machine.travel(NOW, tick=False):
        data = selectors.postmortem_metrics(since=SINCE, until=UNTIL, now=NOW)
    assert (data["due_in_period"], data["on_time"], data["late"]) == (3, 1, 1)
    assert data["overdue_in_period"] == 1
    assert data["completion_within_due"] == 0.3333
    assert data["overdue_postmortems_now"] == 2  # C and E's review


# --- auto-recovery (docs/metrics.md § Incidents: response figures count humans only)


def _monitor(integration, at, *actions, key="flap-1"):
    """Events v2 from the monitoring tool, one per ``(minutes after at, action)``."""
    for minutes, action in actions:
        with time_machine.travel(at + timedelta(minutes=minutes), tick=False):
            body = event(integration.raw_secret, action=action, dedup_key=key)
            raw = json.dumps(body).encode()
            acceptance.accept_delivery(
                integration, fmt="events_v2", body=raw, message=parsing.parse_event(body)
            )
            process(integration)
    return Incident.objects.get(alerts__fingerprint=key)


RESPONSE_FIGURES = ("met", "breached", "on_track", "compliance", "mtta_n", "mtta_p50", "mtta_p90")


def test_an_auto_recovered_incident_moves_only_the_auto_recovered_count(week, integration):
    before = metrics()
    # P1 (severity critical), resolved by the monitor 5 minutes later: nobody responded
    incident = _monitor(integration, jst(2025, 6, 5, 14), (0, "trigger"), (5, "resolve"))
    assert incident.priority == "P1" and incident.response_started_at is None
    after = metrics()
    for group in ("overall", "P1"):
        old = before["overall"] if group == "overall" else before["by_priority"][group]
        new = after["overall"] if group == "overall" else after["by_priority"][group]
        assert {k: new[k] for k in RESPONSE_FIGURES} == {k: old[k] for k in RESPONSE_FIGURES}
        assert new["auto_recovered"] == old["auto_recovered"] + 1 == 1
        assert new["total"] == old["total"] + 1
        assert new["mttr_n"] == old["mttr_n"] + 1  # the service was down 5 minutes
    day = next(p for p in after["trend"] if p["day"] == "2025-06-05")
    assert day["compliance"] == 0.0 and day["mtta_p50"] is None  # D alone is judged that day
    listed = selectors.filter_sla(Incident.objects.all(), "auto_recovered", now=NOW)
    assert list(listed) == [incident]


def test_an_acknowledged_then_auto_resolved_incident_counts_as_a_response(week, integration):
    before = metrics()["overall"]
    acknowledged = (0, "trigger"), (3, "acknowledge"), (10, "resolve")
    incident = _monitor(integration, jst(2025, 6, 5, 14), *acknowledged)
    assert incident.response_started_at == jst(2025, 6, 5, 14, 3)
    after = metrics()["overall"]
    assert after["met"] == before["met"] + 1 and after["breached"] == before["breached"]
    assert after["compliance"] == 0.625  # 5 of 8 (was 4 of 7)
    assert after["mtta_n"] == before["mtta_n"] + 1
    assert after["auto_recovered"] == 0


def test_auto_recovered_after_the_deadline_nobody_answered_stays_breached(week, integration):
    """The P1 target (15 min) passed with nobody on it; the monitor's later resolve does not
    undo that breach."""
    before = metrics()["overall"]
    incident = _monitor(integration, jst(2025, 6, 5, 14), (0, "trigger"), (40, "resolve"))
    assert incident.sla_status == "breached" and incident.recovered_at
    after = metrics()["overall"]
    assert after["breached"] == before["breached"] + 1 and after["auto_recovered"] == 0
    assert after["mtta_n"] == before["mtta_n"]
