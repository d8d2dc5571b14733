"""Integration screens and the alerts section of the incident page."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from incidents.models import Incident
from intake import acceptance, parsing
from intake.models import Integration

from .helpers import am_alert, am_body, integration_fixture, process  # noqa: F401

pytestmark = pytest.mark.django_db


def test_integration_list_needs_the_view_permission(client, operator, ops_leader, integration):
    client.force_login(operator)
    assert client.get(reverse("intake:integrations")).status_code == 403
    client.force_login(ops_leader)
    response = client.get(reverse("intake:integrations"))
    assert response.status_code == 200
    assert "Prometheus" in response.content.decode()


def test_integration_page_shows_url_and_snippets_without_the_secret(
    client, ops_leader, integration
):
    client.force_login(ops_leader)
    page = client.get(integration.get_absolute_url()).content.decode()
    assert "/api/v1/integrations/alertmanager/" in page
    assert "http_config:" in page and "type: Bearer" in page
    assert "event_action" in page
    assert integration.raw_secret not in page
    assert "&lt;secret&gt;" in page


def test_rotating_shows_the_new_secret_once_and_it_works(client, ops_manager, integration):
    client.force_login(ops_manager)
    response = client.post(reverse("intake:integration_rotate", args=[integration.pk]))
    assert response.status_code == 302
    page = client.get(integration.get_absolute_url()).content.decode()
    integration.refresh_from_db()
    start = page.index('data-testid="new-secret"')
    secret = page[start:].split("<code>")[1].split("</code>")[0]
    assert Integration.authenticate(secret, kinds=["generic"]) == integration
    assert (
        'data-testid="new-secret"'
        not in client.get(integration.get_absolute_url()).content.decode()
    )


def test_leader_may_not_rotate(client, ops_leader, integration):
    client.force_login(ops_leader)
    response = client.post(reverse("intake:integration_rotate", args=[integration.pk]))
    assert response.status_code == 403


def test_revoke_refuses_further_deliveries(client, ops_manager, integration):
    client.force_login(ops_manager)
    client.post(reverse("intake:integration_revoke", args=[integration.pk]))
    assert Integration.authenticate(integration.raw_secret, kinds=["generic"]) is None


def test_incident_page_lists_alerts_with_links_and_repeats(client, operator, integration):
    body = am_body(am_alert(), am_alert(instance="web-2"))
    for _ in range(2):
        raw = json.dumps(body).encode()
        acceptance.accept_delivery(
            integration, fmt="alertmanager", body=raw, message=parsing.parse_alertmanager(body)
        )
        process(integration)
    incident = Incident.objects.get()
    client.force_login(operator)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="alerts"' in page
    assert "instance=web-2" in page
    assert "http://prometheus:9090/graph" in page
    assert "×2" in page
    assert "アラート発生 2 件" in page  # the timeline entry, in the default language


def test_deliveries_show_on_the_integration_page(client, ops_leader, integration):
    body = am_body(am_alert())
    acceptance.accept_delivery(
        integration,
        fmt="alertmanager",
        body=json.dumps(body).encode(),
        message=parsing.parse_alertmanager(body),
    )
    process(integration)
    acceptance.record_rejected_delivery(integration, fmt="events_v2", body=b"{}", errors=["bad"])
    client.force_login(ops_leader)
    page = client.get(integration.get_absolute_url()).content.decode()
    assert Incident.objects.get().number in page
    assert "bad" in page


def test_admin_add_issues_a_secret_and_default_rules(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:intake_integration_add"),
        {
            "name": "Grafana",
            "kind": "alertmanager",
            "default_priority": "P3",
            "auto_recover": "on",
            "is_active": "on",
            "rate_limit_per_minute": 600,
            "storm_threshold": 3,
            "storm_window_minutes": 10,
            "delivery_retention_days": 14,
            "rules-TOTAL_FORMS": 0,
            "rules-INITIAL_FORMS": 0,
        },
    )
    integration = Integration.objects.get(name="Grafana")
    assert response.status_code == 302 and response["Location"] == integration.get_absolute_url()
    assert integration.rules.count() == 4
    page = client.get(integration.get_absolute_url()).content.decode()
    assert 'data-testid="new-secret"' in page
