"""Real browser (Chromium, Japanese UI): an ops manager issues a new secret on the integration
page, a sender uses the printed Events v2 example over real HTTP, and the incident page lists the
alert; the resolve event marks it recovered."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from intake import services as intake_services
from itsm.core.roles import Role

from .helpers import intake_worker_fixture  # noqa: F401 - the processor runs after each delivery

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _send(url: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the live test server
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 202
        return json.loads(response.read())


def test_manager_issues_a_secret_and_events_open_and_recover_an_incident(
    page, login, make_user, live_server, intake_worker
):
    integration, _old = intake_services.create_integration(name="Uptime", kind="events_v2")
    login(make_user(Role.OPS_MANAGER, username="suzuki"))

    page.goto("/incidents/integrations/")
    page.get_by_role("link", name="Uptime").click()
    expect(page.get_by_test_id("events-snippet")).to_contain_text("event_action")
    page.get_by_test_id("rotate").click()
    secret = page.get_by_test_id("new-secret").locator("code").inner_text()
    expect(page.get_by_test_id("events-snippet")).to_contain_text(secret)

    url = f"{live_server.url}/api/v1/integrations/events/"
    answer = _send(
        url,
        {
            "routing_key": secret,
            "event_action": "trigger",
            "payload": {"summary": "Checkout is down", "source": "web-1", "severity": "critical"},
            "client_url": "https://monitoring.example/checks/1",
        },
    )
    assert answer["status"] == "success" and answer["dedup_key"]
    incident = Incident.objects.get()

    page.goto(incident.get_absolute_url())
    expect(page.get_by_test_id("alerts")).to_contain_text("Checkout is down")
    expect(page.get_by_test_id("alerts")).to_contain_text("発生中")
    expect(page.locator("#timeline")).to_contain_text("アラート発生 1 件")

    _send(url, {"routing_key": secret, "event_action": "resolve", "dedup_key": answer["dedup_key"]})
    page.reload()
    expect(page.get_by_test_id("alerts")).to_contain_text("解消")
    expect(page.locator("h1")).to_contain_text(re.compile("動作確認"))

    page.goto(integration.get_absolute_url())
    expect(page.get_by_test_id("deliveries")).to_contain_text(incident.number)
