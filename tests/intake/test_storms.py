"""Alert storms that do not hide incidents (issue 13, part 5): the default storm rule, the storm
incident's priority and member list, splitting a group out, and titles that do not go stale."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from incidents.choices import Source, TimelineKind
from incidents.models import Incident, response_due_for
from intake import acceptance, parsing
from intake import services as intake_services
from intake.models import Alert, AlertGroup, Integration, MappingRule
from itsm.core.models import AuditEvent
from itsm.core.roles import Role
from tests.factories import ServiceFactory

from .helpers import am_alert, am_body, integration_fixture, process  # noqa: F401

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english(client):
    """Messages are asserted in English (the portal's default language is Japanese)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


def deliver(integration, body):
    raw = json.dumps(body).encode()
    acceptance.accept_delivery(
        integration,
        fmt="alertmanager",
        body=raw,
        message=parsing.parse_alertmanager(json.loads(raw)),
    )
    process(integration)


def group_body(name, *, severity="critical", alerts=1, **labels):
    """One alert group of ``alerts`` alerts named ``name``, its own groupKey."""
    items = [
        am_alert(name=name, instance=f"{name.lower()}-{i}", severity=severity, labels=labels)
        for i in range(alerts)
    ]
    return am_body(
        *items, group_key=f'{{}}:{{alertname="{name}"}}', commonLabels={"alertname": name}
    )


def storm_incident():
    return Incident.objects.get(alert_groups__is_storm=True)


@pytest.fixture(name="storming")
def storming_fixture(integration):
    """The integration with a one-group storm rule, so a second new group starts the storm."""
    integration.storm_threshold = 1
    integration.save()
    return integration


# ---------------------------------------------------------------------------- the storm rule


def test_a_new_integration_storms_only_at_more_than_ten_groups_in_five_minutes(integration):
    assert (integration.storm_threshold, integration.storm_window_minutes) == (10, 5)


def test_four_unrelated_groups_within_a_minute_are_four_incidents(integration):
    with time_machine.travel(START, tick=False) as clock:
        for name in ("DiskFull", "HighLatency", "CertExpiry", "QueueBacklog"):
            deliver(integration, group_body(name))
            clock.shift(timedelta(seconds=15))
    incidents = Incident.objects.all()
    assert incidents.count() == 4
    assert not AlertGroup.objects.filter(is_storm=True).exists()
    assert {i.title.split(":")[0] for i in incidents} == {
        "DiskFull",
        "HighLatency",
        "CertExpiry",
        "QueueBacklog",
    }


def test_eleven_new_groups_within_five_minutes_start_storm_mode(integration):
    with time_machine.travel(START, tick=False) as clock:
        for i in range(10):
            deliver(integration, group_body(f"Down{i}"))
            clock.shift(timedelta(seconds=25))
        assert Incident.objects.count() == 10  # ten groups are ten incidents
        deliver(integration, group_body("Down10"))  # the 11th within 5 minutes: a storm
        deliver(integration, group_body("Down11"))
        deliver(integration, group_body("Down12", alerts=3))
    assert Incident.objects.count() == 11  # 10 own incidents + 1 storm incident
    storm = storm_incident()
    assert storm.title == f"Alert storm: {integration.name}"
    assert sorted(storm.alerts.values_list("name", flat=True)) == [
        "Down10",
        "Down11",
        "Down12",
        "Down12",
        "Down12",
    ]
    assert storm.timeline.filter(data__storm=True).count() == 1  # announced once


def test_eleven_groups_spread_over_more_than_five_minutes_are_no_storm(integration):
    with time_machine.travel(START, tick=False) as clock:
        for i in range(11):
            deliver(integration, group_body(f"Slow{i}"))
            clock.shift(timedelta(seconds=40))
    assert Incident.objects.count() == 11
    assert not AlertGroup.objects.filter(is_storm=True).exists()


def test_storm_mode_lasts_while_new_groups_keep_pouring_in(integration):
    """Groups that joined the storm count too: a long storm does not leak ten incidents every
    five minutes."""
    integration.storm_threshold = 2
    integration.save()
    with time_machine.travel(START, tick=False) as clock:
        for i in range(12):
            deliver(integration, group_body(f"Flood{i}"))
            clock.shift(timedelta(minutes=1))
    assert Incident.objects.count() == 3  # 2 own incidents + the storm incident
    assert storm_incident().alerts.count() == 10


def test_migration_moves_integrations_on_the_old_default_to_the_new_one(integration):
    migration = importlib.import_module("incidents.migrations.0009_storm_rule_and_group_service")
    old, _ = intake_services.create_integration(name="old default", storm_threshold=3)
    Integration.objects.filter(pk=old.pk).update(storm_window_minutes=10)
    chosen, _ = intake_services.create_integration(
        name="chosen", storm_threshold=3, storm_window_minutes=30
    )
    # The function runs on the models as they were at that migration (the table is the same).
    state = MigrationLoader(connection).project_state(
        ("incidents", "0009_storm_rule_and_group_service")
    )
    migration.to_new_default(state.apps, None)
    old.refresh_from_db()
    chosen.refresh_from_db()
    assert (old.storm_threshold, old.storm_window_minutes) == (10, 5)
    assert (chosen.storm_threshold, chosen.storm_window_minutes) == (3, 30)


def test_storm_joins_cost_no_query_per_alert(storming):
    deliver(storming, group_body("First"))
    deliver(storming, group_body("Second"))  # the storm starts
    counts = []
    for name, alerts in (("Small", 1), ("Large", 40)):
        raw = json.dumps(group_body(name, alerts=alerts, severity="info")).encode()
        acceptance.accept_delivery(
            storming,
            fmt="alertmanager",
            body=raw,
            message=parsing.parse_alertmanager(json.loads(raw)),
        )
        with CaptureQueriesContext(connection) as queries:
            process(storming)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert storm_incident().alerts.count() == 2 + 40


# ---------------------------------------------------------------------------- priority


def test_the_storm_incident_takes_the_highest_priority_of_its_groups(storming):
    with time_machine.travel(START, tick=False) as clock:
        deliver(storming, group_body("Own", severity="warning"))
        deliver(storming, group_body("Warn", severity="warning"))  # storm opens at P3
        storm = storm_incident()
        assert storm.priority == "P3"
        clock.shift(timedelta(minutes=1))
        deliver(storming, group_body("Crit", severity="critical"))  # P1 joins → P1
        storm.refresh_from_db()
        assert storm.priority == "P1"
        assert storm.response_due_at == response_due_for("P1", storm.detected_at)
        deliver(storming, group_body("Info", severity="info"))  # P4 joins: never lowers
    storm.refresh_from_db()
    assert storm.priority == "P1"
    change = storm.timeline.get(kind=TimelineKind.PRIORITY_CHANGE, data__from="P3")
    assert change.data == {"from": "P3", "to": "P1"}
    assert "Crit" in change.text
    assert change.actor_label == storming.name
    audit = AuditEvent.objects.get(action="raise_priority")
    assert audit.data == {"from": "P3", "to": "P1"}


def test_a_higher_group_joining_within_one_batch_raises_the_priority(storming):
    deliver(storming, group_body("Own", severity="info"))
    for name, severity in (("A", "info"), ("B", "error"), ("C", "warning")):
        raw = json.dumps(group_body(name, severity=severity)).encode()
        acceptance.accept_delivery(
            storming,
            fmt="alertmanager",
            body=raw,
            message=parsing.parse_alertmanager(json.loads(raw)),
        )
    process(storming)  # one batch: A opens the storm at P4, B raises it, C does not lower it
    storm = storm_incident()
    assert storm.priority == "P2"
    raised = storm.timeline.filter(kind=TimelineKind.PRIORITY_CHANGE, data__has_key="from")
    assert [e.data for e in raised] == [{"from": "P4", "to": "P2"}]


# ---------------------------------------------------------------------------- member list


def test_the_storm_page_lists_its_groups_with_service_and_alert_count(client, operator, storming):
    shop = ServiceFactory(name="Web shop", slug="shop")
    MappingRule.objects.create(
        integration=storming, order=1, label="svc", value="shop", service=shop
    )
    deliver(storming, group_body("Own"))
    deliver(storming, group_body("ShopDown", alerts=3, svc="shop"))
    deliver(storming, group_body("Other", alerts=2, severity="warning"))
    storm = storm_incident()
    client.force_login(operator)
    page = client.get(storm.get_absolute_url()).content.decode()
    table = page[page.index('data-testid="alert-groups"') :]
    table = table[: table.index("</table>")]
    shop_row = table[table.index("ShopDown") :]
    shop_row = shop_row[: shop_row.index("</tr>")]
    assert "Web shop" in shop_row and "3 (3 firing)" in shop_row and "P1" in shop_row
    other_row = table[table.index("Other") :]
    other_row = other_row[: other_row.index("</tr>")]
    assert "2 (2 firing)" in other_row and "P3" in other_row
    assert table.count('data-testid="split-group"') == 2
    own = Incident.objects.get(title__startswith="Own")
    assert 'data-testid="alert-groups"' not in client.get(own.get_absolute_url()).content.decode()


def test_the_api_lists_a_storm_incidents_groups(api_as, operator, storming):
    deliver(storming, group_body("Own"))
    deliver(storming, group_body("A", alerts=2))
    deliver(storming, group_body("B"))
    storm = storm_incident()
    response = api_as(operator).get(f"/api/v1/incidents/{storm.number}/alert-groups/")
    assert response.status_code == 200
    rows = response.json()
    assert [(r["name"], r["alert_count"], r["own_incident"]) for r in rows] == [
        ("A", 2, False),
        ("B", 1, False),
    ]


# ---------------------------------------------------------------------------- split


def test_split_via_the_api_opens_an_incident_for_the_group(api_as, operator, storming):
    shop = ServiceFactory(name="Web shop", slug="shop")
    MappingRule.objects.create(
        integration=storming, order=1, label="svc", value="shop", service=shop
    )
    deliver(storming, group_body("Own", severity="warning"))
    deliver(storming, group_body("Noise", severity="warning"))
    deliver(storming, group_body("ShopDown", severity="error", alerts=2, svc="shop"))
    storm = storm_incident()
    group = AlertGroup.objects.get(labels__alertname="ShopDown")
    client = api_as(operator)

    response = client.post(f"/api/v1/alert-groups/{group.pk}/split/")

    assert response.status_code == 201, response.json()
    body = response.json()
    new = Incident.objects.get(number=body["incident"])
    assert body == {
        "group": group.pk,
        "incident": new.number,
        "split_from": storm.number,
        "priority": "P2",
        "service": "shop",
    }
    assert new.source == Source.MONITORING and new.title == "ShopDown: ShopDown on shopdown-0"
    assert new.priority == "P2" and new.service == shop and new.reported_by == operator
    assert set(new.alerts.values_list("name", flat=True)) == {"ShopDown"}
    assert new.alerts.count() == 2
    assert not storm.alerts.filter(name="ShopDown").exists()
    group.refresh_from_db()
    assert group.incident == new and group.opened_incident
    assert new.timeline.get(kind=TimelineKind.LINK).data["split_from"] == storm.number
    assert storm.timeline.get(kind=TimelineKind.LINK).data["split_to"] == new.number
    storm.refresh_from_db()
    assert storm.priority == "P2"  # it rose with ShopDown and does not lower

    again = client.post(f"/api/v1/alert-groups/{group.pk}/split/")
    assert again.status_code == 409
    assert again.json()["code"] == "not_splittable"
    assert again.json()["incident"] == new.number
    assert Incident.objects.count() == 3

    # Later deliveries of the group go to its own incident.
    deliver(storming, group_body("ShopDown", severity="error", alerts=3, svc="shop"))
    assert new.alerts.count() == 3
    assert not storm.alerts.filter(name="ShopDown").exists()


def test_split_refusals(api_as, make_user, storming):
    deliver(storming, group_body("Own"))
    deliver(storming, group_body("Joined"))
    own = AlertGroup.objects.get(labels__alertname="Own")
    joined = AlertGroup.objects.get(labels__alertname="Joined")
    storm_group = AlertGroup.objects.get(is_storm=True)
    operator = make_user(Role.OPERATOR, username="op")
    executive = make_user(Role.EXECUTIVE, username="exec")
    developer = make_user(Role.DEVELOPER, username="dev")
    for user in (executive, developer):
        response = api_as(user).post(f"/api/v1/alert-groups/{joined.pk}/split/")
        assert response.status_code == 403
    read_only = api_as(operator, scope="read")
    assert read_only.post(f"/api/v1/alert-groups/{joined.pk}/split/").status_code == 403
    client = api_as(operator)
    assert client.post(f"/api/v1/alert-groups/{own.pk}/split/").status_code == 409
    assert client.post(f"/api/v1/alert-groups/{storm_group.pk}/split/").status_code == 409
    assert client.post("/api/v1/alert-groups/999999/split/").status_code == 404
    assert Incident.objects.count() == 2
    joined.refresh_from_db()
    assert joined.incident == storm_incident()


def test_split_from_the_incident_page(client, operator, make_user, storming):
    deliver(storming, group_body("Own"))
    deliver(storming, group_body("Joined", alerts=2))
    storm = storm_incident()
    group = AlertGroup.objects.get(labels__alertname="Joined")
    url = reverse("intake:alert_group_split", args=[group.pk])

    client.force_login(make_user(Role.EXECUTIVE, username="exec"))
    assert client.post(url).status_code == 403
    client.force_login(make_user(Role.DEVELOPER, username="dev"))
    assert client.post(url).status_code == 403
    assert Incident.objects.count() == 2

    client.force_login(operator)
    page = client.get(storm.get_absolute_url()).content.decode()
    assert f'action="{url}"' in page and "csrfmiddlewaretoken" in page
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    new = Incident.objects.exclude(pk=storm.pk).get(title__startswith="Joined")
    assert response.redirect_chain[-1][0] == storm.get_absolute_url()
    assert f"split out into {new.number}" in response.content.decode()
    assert new.alerts.count() == 2
    assert AuditEvent.objects.filter(action="split_alert_group").count() == 1

    # Again (a double click): refused with a message, nothing opened.
    response = client.post(url, follow=True)
    assert "already has its own incident" in response.content.decode()
    assert Incident.objects.count() == 3


def test_split_needs_a_csrf_token(operator, storming):
    from django.test import Client

    deliver(storming, group_body("Own"))
    deliver(storming, group_body("Joined"))
    group = AlertGroup.objects.get(labels__alertname="Joined")
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(reverse("intake:alert_group_split", args=[group.pk]))
    assert response.status_code == 403
    assert Incident.objects.count() == 2


# ---------------------------------------------------------------------------- titles


def test_incident_titles_do_not_count_alerts_that_go_stale(client, operator, integration):
    deliver(integration, group_body("HighErrorRate", alerts=3))
    incident = Incident.objects.get()
    assert incident.title == "HighErrorRate: HighErrorRate on higherrorrate-0"
    deliver(integration, group_body("HighErrorRate", alerts=5))
    incident.refresh_from_db()
    assert incident.title == "HighErrorRate: HighErrorRate on higherrorrate-0"
    assert Alert.objects.filter(incident=incident).count() == 5
    client.force_login(operator)
    page = client.get(incident.get_absolute_url()).content.decode()
    section = page[page.index('id="alerts-h"') :]
    assert '<span class="badge text-bg-light border">5</span>' in section[:300]


def test_the_openapi_schema_documents_the_split(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    split = schema["paths"]["/api/v1/alert-groups/{id}/split/"]["post"]
    assert {"201", "403", "404", "409"} <= set(split["responses"])
    assert "/api/v1/incidents/{number}/alert-groups/" in schema["paths"]
