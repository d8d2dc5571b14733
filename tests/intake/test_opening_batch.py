"""Issue 20, budget 1: a batch of Events v2 triggers with new dedup keys, or of Alertmanager
notifications of new groups, opens its incidents together (``intake.events.open_new_keys``,
``intake.alerts.open_new_groups`` → ``incidents.services.open_incidents``), and what each
incident holds is what the one-by-one way gives it: fields, timeline, audit trail, report
steps, pages, notifications, alert group and alerts. Order per key, the storm rule and the
fallback when the batch fails are kept; the queries of a batch do not grow with its size."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from incidents.choices import IncidentState
from incidents.models import EscalationStep, Incident, Page
from intake import acceptance, parsing, processing
from intake import services as intake_services
from intake.models import Alert, AlertGroup, Delivery, DeliveryResult
from itsm.core.audit import events_for
from itsm.core.models import Notification, Team
from tests.factories import UserFactory

from .helpers import am_alert, am_body, event

pytestmark = pytest.mark.django_db

TOKYO = ZoneInfo("Asia/Tokyo")
THURSDAY = datetime(2026, 12, 3, 3, 12, tzinfo=TOKYO)  # 03:12 on a weekday night


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _responders(db):
    """People on the first two rungs, so the report steps page someone."""
    for rung in (1, 2):
        team = Team.objects.create(name=f"Rung {rung}", slug=f"rung-{rung}", escalation_level=rung)
        for _ in range(2):
            team.members.add(UserFactory())


def _integration(name: str, kind: str = "events_v2", **fields):
    integration, key = intake_services.create_integration(name=name, kind=kind, **fields)
    integration.rate_limit_per_minute = 0
    integration.save()
    cache.delete(acceptance.bell_key(integration.pk))
    acceptance._bell_seen.pop(integration.pk, None)
    return integration, key


def _accept(integration, body: dict) -> None:
    raw = json.dumps(body).encode()
    acceptance.accept_delivery(
        integration, fmt="events_v2", body=raw, message=parsing.parse_event(json.loads(raw))
    )


def _accept_am(integration, body: dict) -> None:
    raw = json.dumps(body).encode()
    message = parsing.parse_alertmanager(json.loads(raw))
    acceptance.accept_delivery(integration, fmt="alertmanager", body=raw, message=message)


def _notification(n: int) -> dict:
    """A new group's notification: two alerts firing, and for the third group one resolved."""
    alerts = [am_alert(f"Disk{n}", instance=f"db-{n}"), am_alert(f"Disk{n}", instance=f"db-{n}b")]
    if n == 2:
        alerts.append(am_alert(f"Disk{n}", instance=f"db-{n}c", status="resolved"))
    return am_body(*alerts, group_key=f'{{}}:{{alertname="Disk{n}"}}')


def _trigger(key: str, dedup_key: str, n: int, **extra) -> dict:
    return event(
        key, dedup_key=dedup_key, summary=f"Disk 95% full on db-{n}", source=f"db-{n}", **extra
    )


FIELDS = (
    "state",
    "priority",
    "impact_scope",
    "business_impact",
    "urgency",
    "source",
    "team_id",
    "escalation_level",
    "next_deadline_at",
    "response_due_at",
    "resolution_due_at",
    "triaged_at",
    "detected_at",
    "title",
    "description",
)


def _seen(incident: Incident) -> dict:
    """What a responder sees of an opened incident, its number and integration blanked."""
    group = AlertGroup.objects.select_related("integration").get(incident=incident)
    seen = {
        "fields": {f: getattr(incident, f) for f in FIELDS},
        "timeline": [
            (e.kind, e.actor_label, e.text, e.data) for e in incident.timeline.order_by("id")
        ],
        "audit": [
            (e.action, e.actor_label, e.from_state, e.to_state, e.data)
            for e in events_for(incident).order_by("id")
        ],
        "steps": [
            (s.key, s.level, s.notified)
            for s in EscalationStep.objects.filter(incident=incident).order_by("key")
        ],
        "pages": sorted(
            Page.objects.filter(incident=incident).values_list("level", "user_id", "target")
        ),
        "notifications": Notification.objects.filter(key__startswith=f"{incident.number}:").count(),
        "group": (group.key, group.priority, group.opened_incident, group.is_open),
        "alerts": [
            (a.fingerprint, a.name, a.status, a.repeat_count)
            for a in Alert.objects.filter(incident=incident).order_by("fingerprint")
        ],
    }
    text = json.dumps(seen, default=str)
    return json.loads(
        text.replace(incident.number, "<number>").replace(group.integration.name, "<integration>")
    )


@time_machine.travel(THURSDAY, tick=False)
def test_a_batch_of_new_keys_opens_the_same_incidents_as_one_by_one():
    together, key = _integration("together")
    for n in range(3):
        _accept(
            together, _trigger(key, f"disk-{n}", n, severity=("critical", "warning", "info")[n])
        )
    with CaptureQueriesContext(connection) as batch:
        processing.process_deliveries(together.pk)
    alone, alone_key = _integration("alone")
    for n in range(3):
        _accept(
            alone, _trigger(alone_key, f"disk-{n}", n, severity=("critical", "warning", "info")[n])
        )
        processing.process_deliveries(alone.pk)

    opened = [
        AlertGroup.objects.get(integration=together, key=f"disk-{n}").incident for n in range(3)
    ]
    expected = [
        AlertGroup.objects.get(integration=alone, key=f"disk-{n}").incident for n in range(3)
    ]
    assert [i.priority for i in opened] == ["P1", "P3", "P4"]
    for got, want in zip(opened, expected, strict=True):
        assert _seen(got) == _seen(want)
    assert sum('INSERT INTO "incidents_incident"' in q["sql"] for q in batch) == 1
    assert (
        Delivery.objects.filter(integration=together, result=DeliveryResult.PROCESSED).count() == 3
    )


@time_machine.travel(THURSDAY, tick=False)
def test_alertmanager_notifications_of_new_groups_open_the_same_incidents_together():
    together, _ = _integration("together", kind="alertmanager")
    for n in range(3):
        _accept_am(together, _notification(n))
    with CaptureQueriesContext(connection) as batch:
        processing.process_deliveries(together.pk)
    alone, _ = _integration("alone", kind="alertmanager")
    for n in range(3):
        _accept_am(alone, _notification(n))
        processing.process_deliveries(alone.pk)

    def opened(integration):
        return [
            AlertGroup.objects.get(integration=integration, key__contains=f"Disk{n}").incident
            for n in range(3)
        ]

    for got, want in zip(opened(together), opened(alone), strict=True):
        assert _seen(got) == _seen(want)
    assert len(_seen(opened(together)[2])["alerts"]) == 3
    assert sum('INSERT INTO "incidents_incident"' in q["sql"] for q in batch) == 1


@time_machine.travel(THURSDAY, tick=False)
def test_later_events_of_a_key_in_the_same_batch_act_on_the_incident_it_opened():
    integration, key = _integration("order")
    _accept(integration, _trigger(key, "disk-1", 1))
    _accept(integration, _trigger(key, "disk-2", 2))
    _accept(integration, event(key, action="acknowledge", dedup_key="disk-1"))
    _accept(integration, _trigger(key, "disk-1", 1))  # a repeat: counted, no new incident
    _accept(integration, event(key, action="resolve", dedup_key="disk-2"))
    processing.process_deliveries(integration.pk)

    first = AlertGroup.objects.get(integration=integration, key="disk-1").incident
    second = AlertGroup.objects.get(integration=integration, key="disk-2").incident
    assert Incident.objects.filter(alert_groups__integration=integration).count() == 2
    assert first.state == IncidentState.INVESTIGATING
    assert Alert.objects.get(incident=first).repeat_count == 1
    assert second.state == IncidentState.VERIFYING
    assert not Delivery.objects.filter(integration=integration, result="pending").exists()


def test_a_key_seen_before_goes_the_one_by_one_way():
    integration, key = _integration("known")
    _accept(integration, _trigger(key, "disk-1", 1))
    processing.process_deliveries(integration.pk)
    first = AlertGroup.objects.get(integration=integration, key="disk-1").incident
    _accept(integration, _trigger(key, "disk-1", 1))
    _accept(integration, _trigger(key, "disk-2", 2))
    _accept(integration, _trigger(key, "disk-3", 3))
    processing.process_deliveries(integration.pk)

    assert Alert.objects.get(incident=first).repeat_count == 1
    assert Incident.objects.filter(alert_groups__integration=integration).count() == 3


def test_the_storm_rule_still_holds_when_new_keys_arrive_together():
    """Threshold 3: the first three keys are incidents of their own, the rest join one storm
    incident — as when they arrive one by one."""
    integration, key = _integration("storm", storm_threshold=3)
    for n in range(6):
        _accept(integration, _trigger(key, f"disk-{n}", n))
    processing.process_deliveries(integration.pk)

    groups = AlertGroup.objects.filter(integration=integration, is_storm=False).order_by("id")
    assert [g.opened_incident for g in groups] == [True, True, True, False, False, False]
    assert len({g.incident_id for g in groups}) == 4
    storm = AlertGroup.objects.get(integration=integration, is_storm=True).incident
    assert {g.incident_id for g in groups[3:]} == {storm.pk}


def test_when_the_batch_fails_each_delivery_is_applied_on_its_own(monkeypatch):
    integration, key = _integration("fallback")
    for n in range(3):
        _accept(integration, _trigger(key, f"disk-{n}", n))
    real = processing.open_new_keys

    def fails_after_writing(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("lost the connection")

    monkeypatch.setattr(processing, "open_new_keys", fails_after_writing)
    processing.process_deliveries(integration.pk)

    assert Incident.objects.count() == 3  # the batch's writes were rolled back, none doubled
    assert AlertGroup.objects.filter(integration=integration).count() == 3
    assert Delivery.objects.filter(integration=integration, result="processed").count() == 3


def _batch_queries(count: int) -> int:
    integration, key = _integration(f"size {count}", storm_threshold=1000)
    for n in range(count):
        _accept(integration, _trigger(key, f"disk-{n}", n))
    with CaptureQueriesContext(connection) as queries:
        processing.process_deliveries(integration.pk)
    assert Incident.objects.filter(alert_groups__integration=integration).count() == count
    assert Page.objects.filter(incident__alert_groups__integration=integration).count() == count * 4
    return len(queries)


def test_the_queries_of_a_batch_of_new_keys_do_not_grow_with_it():
    _batch_queries(3)  # warm-up: the configuration is read once per process
    small, large = _batch_queries(10), _batch_queries(40)
    assert small == large
    # The integration lock, the deliveries, the rules, the known keys, the storm window; the
    # numbers, incidents, clocks, each rung's people (2 × 3), steps, pages, notification rows
    # (7), notified counts, timeline, audit; groups, alerts; the deliveries' outcomes, the last
    # delivery time, the look for more; savepoints and the transaction.
    assert large <= 45
