"""The demo integrations seed idempotently and produce a monitoring incident with alerts."""

import pytest

from incidents import demo_intake
from incidents.models import Integration


@pytest.mark.django_db
@pytest.mark.usefixtures("demo_clock")
def test_demo_seed_is_idempotent():
    demo_intake.seed({})
    demo_intake.seed({})
    assert Integration.objects.count() == 2
    prometheus = Integration.objects.get(kind="alertmanager")
    assert prometheus.deliveries.get().incidents
    assert prometheus.groups.get().incident.alerts.count() == 3
