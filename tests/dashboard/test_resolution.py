"""Resolution SLA compliance (issue 18, docs/metrics.md § Incidents): recovered by the resolution
deadline (holds taken into account), judged beside response compliance."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from incidents import holds, selectors, services
from incidents.choices import HoldReason

from .conftest import NOW, SINCE, UNTIL, jst

pytestmark = pytest.mark.django_db


def metrics():
    return selectors.incident_metrics(since=SINCE, until=UNTIL, now=NOW)


def p1(detected, *, actor, recovered_after=None, hold=None):
    with time_machine.travel(detected, tick=False):
        incident = services.open_incident(title="Down", source="monitoring", priority="P1")
        services.transition(incident, "start_response", actor=actor)
    if hold:
        with time_machine.travel(detected + hold[0], tick=False):
            holds.put_on_hold(incident, actor=actor, reason=HoldReason.WAITING_FOR_VENDOR)
        with time_machine.travel(detected + hold[1], tick=False):
            holds.end_hold(incident, actor=actor)
    if recovered_after is not None:
        with time_machine.travel(detected + recovered_after, tick=False):
            services.transition(incident, "start_recovery", actor=actor)
            services.transition(incident, "verify", actor=actor)
    return incident


def test_resolution_compliance_moves_with_recoveries_and_holds(operator):
    h = timedelta(hours=1)
    p1(jst(2025, 6, 3, 10), actor=operator, recovered_after=3 * h)  # met (4 h target)
    p1(jst(2025, 6, 4, 10), actor=operator, recovered_after=5 * h)  # breached
    # 5 h to recover, but 2 h on hold: 3 h counted, met.
    p1(jst(2025, 6, 5, 10), actor=operator, recovered_after=5 * h, hold=(h, 3 * h))
    overall = metrics()["overall"]
    assert (overall["resolution_met"], overall["resolution_breached"]) == (2, 1)
    assert overall["resolution_compliance"] == 0.6667
    # Still open past its deadline (NOW is 10 June): breached.
    p1(jst(2025, 6, 6, 10), actor=operator)
    data = metrics()
    assert data["overall"]["resolution_compliance"] == 0.5
    assert data["by_priority"]["P1"]["resolution_breached"] == 2
    # Response compliance is not moved by the holds: all four answered at once.
    assert data["overall"]["compliance"] == 1.0


def test_the_dashboard_shows_the_resolution_tile(client, operator, make_user):
    p1(jst(2025, 6, 3, 10), actor=operator, recovered_after=timedelta(hours=1))
    client.force_login(make_user("ops_manager", username="boss"))
    with time_machine.travel(NOW, tick=False):
        html = client.get(
            "/dashboard/?days=custom&since=2025-06-02&until=2025-06-08"
        ).content.decode()
    assert 'data-tile="resolution-compliance"' in html
