"""A hand-computed week of incidents (docs/metrics.md worked example) and the period around it.

Period: 2025-06-02 … 2025-06-08 (JST), i.e. [06-02 00:00, 06-09 00:00). "Now" is 06-10 12:00.

| inc | prio | detected (JST)   | response started   | recovered | SLA      | MTTA  | MTTR |
|-----|------|------------------|--------------------|-----------|----------|-------|------|
| A   | P1   | 06-02 00:00 (=since) | +10 min        | +60 min   | met      | 10    | 60   |
| B   | P1   | 06-03 10:00      | +20 min            | +120 min  | breached | 20    | 120  |
| C   | P1   | 06-04 10:00      | +5 min             | +30 min   | met      | 5     | 30   |
| D   | P2   | 06-05 10:00      | —  (due 10:30)     | —         | breached | —     | —    |
| E   | P4   | Fri 06-06 17:00  | Mon 06-09 15:00    | —         | met (business clock: due Mon 16:00) | 4200 | — |
| F   | P4   | Fri 06-06 17:00  | Mon 06-09 17:00    | —         | breached | 4320  | —    |
| G   | —    | 06-07 09:00      | untriaged          |           |          |       |      |
| R   | P3   | 06-04 09:00      | 09:30, recovered 10:30, closed, reopened 12:00 | met | 30 | — (reopened) |
| H   | P1   | 06-01 23:59:59   | outside the period (before since)                          |
| I   | P1   | 06-09 00:00      | outside the period (until is exclusive)                    |
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from incidents import services as incident_services
from incidents.models import Incident, response_due_for
from itsm.core import workflow
from itsm.core.roles import Role
from tests.factories import ServiceFactory

JST = ZoneInfo("Asia/Tokyo")
SINCE = datetime(2025, 6, 2, tzinfo=JST)
UNTIL = datetime(2025, 6, 9, tzinfo=JST)
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=JST)


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def make_incident(priority, detected, started=None, recovered=None, *, service=None, state=None):
    due = response_due_for(priority, detected) if priority else None
    if state is None:
        state = "verifying" if recovered else ("investigating" if started else "triaged")
        if not priority:
            state = "detected"
    return Incident.objects.create(
        title=f"{priority or 'untriaged'} at {detected:%m-%d %H:%M}",
        priority=priority,
        service=service,
        state=state,
        detected_at=detected,
        response_due_at=due,
        response_started_at=started,
        recovered_at=recovered,
    )


@pytest.fixture
def week(db, make_user):
    """The incidents of the table above; returns them by letter."""
    shop = ServiceFactory(slug="web-shop", name="Web shop")
    other = ServiceFactory(slug="payments", name="Payments")
    m = timedelta(minutes=1)
    a = jst(2025, 6, 2, 0, 0)
    b = jst(2025, 6, 3, 10, 0)
    c = jst(2025, 6, 4, 10, 0)
    d = jst(2025, 6, 5, 10, 0)
    fri = jst(2025, 6, 6, 17, 0)
    rows = {
        "A": make_incident("P1", a, a + 10 * m, a + 60 * m, service=shop),
        "B": make_incident("P1", b, b + 20 * m, b + 120 * m, service=shop),
        "C": make_incident("P1", c, c + 5 * m, c + 30 * m, service=other),
        "D": make_incident("P2", d, service=shop),
        "E": make_incident("P4", fri, jst(2025, 6, 9, 15, 0), service=shop),
        "F": make_incident("P4", fri, jst(2025, 6, 9, 17, 0), service=shop),
        "G": make_incident("", jst(2025, 6, 7, 9, 0), service=shop),
        "H": make_incident("P1", a - timedelta(seconds=1), a + 5 * m, a + 6 * m, service=shop),
        "I": make_incident("P1", UNTIL, UNTIL + 5 * m, UNTIL + 6 * m, service=shop),
    }
    # R goes through the real workflow: recovered, closed, then reopened (recovery undone).
    operator = make_user(Role.OPERATOR, username="op-r")
    leader = make_user(Role.OPS_LEADER, username="leader-r")
    with time_machine.travel(jst(2025, 6, 4, 9, 0), tick=False) as clock:
        r = incident_services.open_incident(
            title="R",
            source="monitoring",
            service=other,
            actor=operator,
            impact_scope="some_users",
            business_impact="minor",
            urgency="immediate",
        )
        clock.move_to(jst(2025, 6, 4, 9, 30))
        workflow.perform(r, "start_response", actor=operator)
        workflow.perform(r, "start_recovery", actor=operator)
        clock.move_to(jst(2025, 6, 4, 10, 30))
        workflow.perform(r, "verify", actor=operator)
        incident_services.close_incident(r, actor=leader, resolution_summary="restarted")
        clock.move_to(jst(2025, 6, 4, 12, 0))
        workflow.perform(r, "reopen", actor=operator, comment="errors are back")
    r.refresh_from_db()
    rows["R"] = r
    return rows
