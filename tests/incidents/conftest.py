import pytest
from django.utils import timezone

from incidents import services
from incidents.choices import IncidentState


@pytest.fixture
def open_incident(db):
    def make(**kwargs):
        kwargs.setdefault("title", "Checkout returns 500")
        kwargs.setdefault("source", "user_report")
        return services.open_incident(**kwargs)

    return make


def advance(incident, *names, actor=None, data=None):
    """Force an incident through transitions without permission checks (test set-up only)."""
    for name in names:
        services.transition(
            incident, name, actor=None, comment="setup", data=data or {}, system_label="test"
        )
    return incident


@pytest.fixture
def incident_in(open_incident):
    """``incident_in("verifying", priority="P1")`` → an incident walked to that state."""

    path = {
        IncidentState.DETECTED: [],
        IncidentState.TRIAGED: [],
        IncidentState.INVESTIGATING: ["start_response"],
        IncidentState.RECOVERING: ["start_response", "start_recovery"],
        IncidentState.VERIFYING: ["start_response", "start_recovery", "verify"],
        IncidentState.CLOSED: ["start_response", "start_recovery", "verify"],
    }

    def make(state, priority="P3", **kwargs):
        if state == IncidentState.DETECTED:
            return open_incident(**kwargs)
        incident = open_incident(priority=priority, **kwargs)
        advance(incident, *path[state])
        if state == IncidentState.CLOSED:
            advance(incident, "close", data={"resolution_summary": "restarted the pool"})
            incident.refresh_from_db()
        assert incident.state == state
        assert incident.detected_at <= timezone.now()
        return incident

    return make
