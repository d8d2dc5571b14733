"""The demo integrations seed idempotently and produce a monitoring incident with alerts."""

import pytest

from intake import demo as intake_demo
from intake.models import Integration


@pytest.mark.django_db
@pytest.mark.usefixtures("demo_clock")
def test_demo_seed_is_idempotent():
    intake_demo.seed({})
    intake_demo.seed({})
    assert Integration.objects.count() == 2
    prometheus = Integration.objects.get(kind="alertmanager")
    assert prometheus.deliveries.get().incidents
    assert prometheus.groups.get().incident.alerts.count() == 3


@pytest.mark.django_db
def test_demo_has_an_incident_the_monitor_recovered_with_nobody_responding():
    intake_demo.seed({})
    intake_demo.seed({})
    uptime = Integration.objects.get(kind="events_v2")
    incident = uptime.groups.get().incident
    assert incident.state == "verifying" and incident.auto_recovered
    assert incident.sla_status == "auto_recovered"
    assert (incident.recovered_at - incident.detected_at).total_seconds() >= 4 * 60
