"""Monitoring intake rules (issue 5): dedup, repeats, grouping, resolution, re-fire, storms."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from incidents.choices import IncidentState, Source
from incidents.models import Incident
from intake import acceptance, alerts, parsing, processing
from intake import services as intake_services
from intake.models import Alert, AlertGroup, Delivery, DeliveryResult, Integration, MappingRule
from itsm.core import workflow
from tests.incidents.conftest import advance

from .helpers import am_alert, am_body, event, integration_fixture, process  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the portal's default language is Japanese)."""
    with translation.override("en"):
        yield


def deliver_am(integration, body):
    """Accept a delivery as the endpoint does, then run the processor as the worker does."""
    raw = json.dumps(body).encode()
    delivery_id = acceptance.accept_delivery(
        integration,
        fmt="alertmanager",
        body=raw,
        message=parsing.parse_alertmanager(json.loads(raw)),
    )
    process(integration)
    return Delivery.objects.get(pk=delivery_id)


def deliver_event(integration, body):
    raw = json.dumps(body).encode()
    message = parsing.parse_event(json.loads(raw))
    acceptance.accept_delivery(integration, fmt="events_v2", body=raw, message=message)
    process(integration)
    return message


def close(incident):
    incident.refresh_from_db()
    path = {
        "triaged": ["start_response", "start_recovery", "verify"],
        "investigating": ["start_recovery", "verify"],
        "recovering": ["verify"],
        "verifying": [],
    }[incident.state]
    advance(incident, *path)
    advance(incident, "close", data={"resolution_summary": "fixed"})
    incident.refresh_from_db()
    assert incident.state == IncidentState.CLOSED


# ---------------------------------------------------------------------------- integrations


def test_secret_is_stored_hashed_and_authenticates_in_constant_time(integration):
    raw = integration.raw_secret
    stored = Integration.objects.get(pk=integration.pk)
    assert raw not in (stored.secret_digest, stored.secret_prefix)
    assert stored.secret_digest == Integration.hash(raw)
    assert len(raw) == 32
    assert Integration.authenticate(raw, kinds=["generic"]) == stored
    assert Integration.authenticate(raw[:-1] + "x", kinds=["generic"]) is None
    assert Integration.authenticate(raw, kinds=["alertmanager"]) is None  # wrong kind


def test_revoked_or_rotated_secret_stops_working(integration):
    raw = integration.raw_secret
    new = intake_services.rotate_secret(integration, actor=None)
    assert Integration.authenticate(raw, kinds=["generic"]) is None
    assert Integration.authenticate(new, kinds=["generic"]) == integration
    intake_services.revoke_secret(integration, actor=None)
    assert Integration.authenticate(new, kinds=["generic"]) is None


def test_new_integration_gets_the_default_severity_rules(integration):
    rules = {(r.label, r.value): r.priority for r in integration.rules.all()}
    assert rules == {
        ("severity", "critical"): "P1",
        ("severity", "error"): "P2",
        ("severity", "warning"): "P3",
        ("severity", "info"): "P4",
    }


def test_rate_limit_counts_per_minute_and_says_when_to_retry(integration):
    integration.rate_limit_per_minute = 2
    integration.save()
    now = 1_699_999_990.0  # 10 s into a minute
    assert acceptance.check_rate_limit(integration, now=now) is None
    assert acceptance.check_rate_limit(integration, now=now) is None
    assert acceptance.check_rate_limit(integration, now=now) == 50
    assert acceptance.check_rate_limit(integration, now=now + 60) is None  # next minute


def test_rate_limit_leases_parts_of_the_budget_and_never_accepts_more(integration, monkeypatch):
    integration.rate_limit_per_minute = 250  # leases of 2 requests
    integration.save()
    counted = []
    real = acceptance.count_hit
    monkeypatch.setattr(acceptance, "count_hit", lambda *a: counted.append(a) or real(*a))
    now = 1_699_999_990.0
    answers = [acceptance.check_rate_limit(integration, now=now) for _ in range(260)]
    assert answers.count(None) == 250 and set(answers[250:]) == {50}
    assert len(counted) == 125 + 10  # one cache round trip per lease, then per refusal
    # Another process holds a lease it has not spent: refusals start early, never late.
    later = now + 60
    assert acceptance.check_rate_limit(integration, now=later) is None  # leased 2, spent 1
    acceptance._rate_leases.clear()  # from here on, "another process"
    answers = [acceptance.check_rate_limit(integration, now=later) for _ in range(250)]
    assert answers.count(None) == 248  # 1 + 248 < 250 accepted in the minute


# ---------------------------------------------------------------------------- Alertmanager


def test_firing_alert_opens_a_triaged_monitoring_incident_with_its_alerts(integration):
    delivery = deliver_am(integration, am_body(am_alert(), am_alert(instance="web-2")))
    delivery.refresh_from_db()
    assert delivery.result == DeliveryResult.PROCESSED
    incident = Incident.objects.get()
    assert delivery.incidents == [incident.number]
    assert incident.source == Source.MONITORING
    assert incident.priority == "P1"  # severity=critical → P1 (default rule)
    assert incident.state == IncidentState.TRIAGED
    assert incident.title.startswith("HighErrorRate")
    assert incident.alerts.count() == 2
    alert = incident.alerts.first()
    assert alert.generator_url.startswith("http://prometheus")
    assert alert.starts_at.year == 2024 and alert.ends_at is None
    texts = list(incident.timeline.values_list("text", flat=True))
    assert any("2 alert(s) firing" in t for t in texts)


def test_duplicate_delivery_counts_a_repeat_and_opens_nothing_new(integration):
    body = am_body(am_alert())
    deliver_am(integration, body)
    deliver_am(integration, body)
    deliver_am(integration, body)
    assert Incident.objects.count() == 1
    alert = Alert.objects.get()
    assert alert.repeat_count == 2


def test_new_alert_in_the_same_group_joins_the_open_incident(integration):
    deliver_am(integration, am_body(am_alert()))
    deliver_am(integration, am_body(am_alert(), am_alert(instance="web-9")))
    incident = Incident.objects.get()
    assert incident.alerts.count() == 2


def test_other_group_key_opens_another_incident(integration):
    deliver_am(integration, am_body(am_alert()))
    deliver_am(integration, am_body(am_alert(name="DiskFull"), group_key="{}:{alertname=DiskFull}"))
    assert Incident.objects.count() == 2


def test_partial_resolution_is_recorded_but_does_not_recover(integration):
    deliver_am(integration, am_body(am_alert(), am_alert(instance="web-2")))
    deliver_am(integration, am_body(am_alert(status="resolved"), am_alert(instance="web-2")))
    incident = Incident.objects.get()
    assert incident.recovered_at is None
    assert incident.state == IncidentState.TRIAGED
    assert incident.alerts.filter(status="resolved").count() == 1
    assert incident.timeline.filter(text__contains="1 alert(s) resolved").exists()


def test_full_resolution_marks_recovered_but_never_closes(integration):
    deliver_am(integration, am_body(am_alert(), am_alert(instance="web-2")))
    deliver_am(
        integration,
        am_body(am_alert(status="resolved"), am_alert(instance="web-2", status="resolved")),
    )
    incident = Incident.objects.get()
    assert incident.state == IncidentState.VERIFYING
    assert incident.recovered_at is not None
    assert incident.closed_at is None


def test_resolution_without_auto_recover_leaves_the_incident_to_people(integration):
    integration.auto_recover = False
    integration.save()
    deliver_am(integration, am_body(am_alert()))
    deliver_am(integration, am_body(am_alert(status="resolved")))
    incident = Incident.objects.get()
    assert incident.state == IncidentState.TRIAGED
    assert incident.alerts.get().status == "resolved"


def test_auto_recovery_is_not_a_response(integration):
    """The monitor's resolve records the recovery, but nobody responded: no response start,
    no assignee; the timeline says the monitor recovered it (docs/metrics.md § Incidents)."""
    deliver_am(integration, am_body(am_alert()))
    deliver_am(integration, am_body(am_alert(status="resolved")))
    incident = Incident.objects.get()
    assert incident.state == IncidentState.VERIFYING
    assert incident.recovered_at is not None
    assert incident.response_started_at is None and incident.assignee is None
    assert incident.auto_recovered
    entry = incident.timeline.get(data__transition="auto_recover")
    assert entry.actor is None and entry.actor_label == integration.name
    assert "Recovered by the monitor; nobody has responded." in entry.text
    assert not incident.timeline.filter(data__transition="start_response").exists()


def test_a_person_who_responded_before_the_resolve_keeps_the_response(integration, operator):
    deliver_am(integration, am_body(am_alert()))
    incident = Incident.objects.get()
    workflow.perform(incident, "start_response", actor=operator)
    deliver_am(integration, am_body(am_alert(status="resolved")))
    incident.refresh_from_db()
    assert incident.state == IncidentState.VERIFYING and incident.recovered_at
    assert incident.response_started_at is not None and incident.assignee == operator
    assert not incident.auto_recovered


def test_firing_again_after_auto_recovery_waits_for_a_response_again(integration):
    deliver_am(integration, am_body(am_alert()))
    deliver_am(integration, am_body(am_alert(status="resolved")))
    deliver_am(integration, am_body(am_alert()))
    incident = Incident.objects.get()
    # nobody had responded: back to triaged, not "recovering" with nobody on it
    assert incident.state == IncidentState.TRIAGED
    assert incident.recovered_at is None and incident.response_started_at is None


def test_firing_again_after_a_response_reopens_the_work(integration, operator):
    deliver_am(integration, am_body(am_alert()))
    workflow.perform(Incident.objects.get(), "start_response", actor=operator)
    deliver_am(integration, am_body(am_alert(status="resolved")))
    deliver_am(integration, am_body(am_alert()))
    incident = Incident.objects.get()
    assert incident.state == IncidentState.RECOVERING
    assert incident.recovered_at is None


def test_a_person_taking_up_an_auto_recovered_incident_responds(integration, operator):
    """A failed verification of an auto-recovered incident is somebody working on it: the
    response starts then (investigating/recovering always have a response start)."""
    deliver_am(integration, am_body(am_alert()))
    deliver_am(integration, am_body(am_alert(status="resolved")))
    incident = Incident.objects.get()
    workflow.perform(incident, "reject_fix", actor=operator, comment="still failing for some")
    assert incident.state == IncidentState.RECOVERING
    assert incident.response_started_at is not None and incident.assignee == operator


def test_refire_after_close_opens_a_new_incident_linked_to_the_old_one(integration):
    deliver_am(integration, am_body(am_alert()))
    deliver_am(integration, am_body(am_alert(status="resolved")))
    old = Incident.objects.get()
    close(old)
    deliver_am(integration, am_body(am_alert()))
    new = Incident.objects.exclude(pk=old.pk).get()
    assert new.state == IncidentState.TRIAGED
    assert new.timeline.filter(data__previous_incident=old.number).exists()
    assert old.timeline.filter(data__next_incident=new.number).exists()
    groups = AlertGroup.objects.order_by("opened_at", "id")
    assert [g.is_open for g in groups] == [False, True]
    assert groups[1].previous_id == groups[0].pk


def test_resolved_notification_after_close_opens_nothing(integration):
    deliver_am(integration, am_body(am_alert()))
    close(Incident.objects.get())
    deliver_am(integration, am_body(am_alert(status="resolved")))
    assert Incident.objects.count() == 1
    assert Alert.objects.get().status == "resolved"


def test_grafana_webhook_body_with_extra_fields_is_accepted(integration):
    alert = am_alert(
        valueString="[ var='B' value=12 ]",
        dashboardURL="http://grafana/d/abc",
        silenceURL="http://grafana/alerting/silence/new",
        values={"B": 12},
    )
    body = am_body(
        alert, orgId=1, title="[FIRING:1] HighErrorRate", state="alerting", message="…", version="1"
    )
    deliver_am(integration, body)
    assert Incident.objects.count() == 1


def test_unknown_fields_are_ignored(integration):
    deliver_am(integration, am_body(am_alert(future="x"), something={"nested": [1, 2]}))
    assert Alert.objects.count() == 1


def test_alert_without_fingerprint_is_identified_by_its_labels(integration):
    alert = am_alert()
    del alert["fingerprint"]
    deliver_am(integration, am_body(alert))
    deliver_am(integration, am_body(dict(alert)))
    assert Alert.objects.get().repeat_count == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"groupKey": "x"}, "“alerts” must be a list"),
        ({"alerts": [{"status": "burning", "labels": {}}]}, "status must be"),
        ({"alerts": ["nope"]}, "must be an object"),
        ({"alerts": [{"status": "firing", "labels": "x"}]}, "labels must be an object"),
        ({"alerts": [{"status": "firing", "labels": {}, "startsAt": "yesterday"}]}, "RFC 3339"),
        ({"alerts": [{"status": "firing", "labels": {}, "fingerprint": 7}]}, "fingerprint"),
    ],
)
def test_malformed_alertmanager_bodies_are_refused_with_a_message(body, message):
    with pytest.raises(parsing.IntakeInvalid) as exc:
        parsing.parse_alertmanager(body)
    assert any(message in e for e in exc.value.errors), exc.value.errors


def test_mapping_rules_are_data_first_match_wins_per_field(integration, db):
    from itsm.core.models import Service

    checkout = Service.objects.create(name="Checkout", slug="checkout")
    MappingRule.objects.create(
        integration=integration, order=1, label="job", value="api", service=checkout
    )
    MappingRule.objects.create(
        integration=integration, order=2, label="instance", value="web-1", priority="P2"
    )
    deliver_am(integration, am_body(am_alert(severity="warning")))
    incident = Incident.objects.get()
    assert incident.priority == "P2"  # instance rule before the severity=warning → P3 rule
    assert incident.service == checkout


def test_triage_inputs_from_rules_use_the_matrix(integration):
    integration.rules.all().delete()
    MappingRule.objects.create(
        integration=integration,
        label="severity",
        value="*",
        impact_scope="some_users",
        business_impact="minor",
        urgency="immediate",
    )
    deliver_am(integration, am_body(am_alert()))
    assert Incident.objects.get().priority == "P3"


def test_unmatched_alert_takes_the_default_priority_and_team(integration):
    from itsm.core.models import Team

    integration.team = Team.objects.create(name="SRE")
    integration.default_priority = "P4"
    integration.save()
    deliver_am(integration, am_body(am_alert(severity="page")))
    incident = Incident.objects.get()
    assert incident.priority == "P4"
    assert incident.team.name == "SRE"


# ---------------------------------------------------------------------------- Events v2


def test_event_trigger_opens_and_repeat_trigger_only_counts(integration):
    key = integration.raw_secret
    deliver_event(integration, event(key))
    deliver_event(integration, event(key))
    incident = Incident.objects.get()
    assert incident.priority == "P1"
    assert incident.title == "Disk 95% full on db-1"
    assert Alert.objects.get().repeat_count == 1


def test_event_trigger_without_dedup_key_gets_a_generated_one(integration):
    message = deliver_event(integration, event(integration.raw_secret, dedup_key=None))
    assert message.generated_key and len(message.dedup_key) == 32
    assert AlertGroup.objects.get().key == message.dedup_key


def test_acknowledge_starts_the_response(integration):
    deliver_event(integration, event(integration.raw_secret))
    deliver_event(integration, event(integration.raw_secret, action="acknowledge"))
    incident = Incident.objects.get()
    assert incident.state == IncidentState.INVESTIGATING
    assert incident.response_started_at is not None


def test_acknowledged_then_resolved_is_a_response_then_a_recovery(integration):
    key = integration.raw_secret
    deliver_event(integration, event(key))
    deliver_event(integration, event(key, action="acknowledge"))
    deliver_event(integration, event(key, action="resolve"))
    incident = Incident.objects.get()
    assert incident.state == IncidentState.VERIFYING and incident.recovered_at
    assert incident.response_started_at is not None and not incident.auto_recovered
    assert incident.sla_status == "met"
    entry = incident.timeline.get(data__transition="auto_recover")
    assert entry.text.endswith("Recovered by the monitor.")


def test_resolve_recovers_and_a_new_trigger_opens_a_new_incident(integration):
    key = integration.raw_secret
    deliver_event(integration, event(key))
    deliver_event(integration, event(key, action="resolve"))
    first = Incident.objects.get()
    assert first.state == IncidentState.VERIFYING and first.recovered_at
    deliver_event(integration, event(key))
    assert Incident.objects.count() == 2
    second = Incident.objects.exclude(pk=first.pk).get()
    assert second.timeline.filter(data__previous_incident=first.number).exists()


def test_acknowledge_or_resolve_with_nothing_open_is_accepted_and_dropped(integration):
    deliver_event(integration, event(integration.raw_secret, action="acknowledge"))
    deliver_event(integration, event(integration.raw_secret, action="resolve"))
    assert Incident.objects.count() == 0
    assert set(Delivery.objects.values_list("result", flat=True)) == {DeliveryResult.DROPPED}


def test_events_with_other_dedup_keys_are_separate_incidents(integration):
    deliver_event(integration, event(integration.raw_secret, dedup_key="a"))
    deliver_event(integration, event(integration.raw_secret, dedup_key="b", severity="info"))
    assert sorted(Incident.objects.values_list("priority", flat=True)) == ["P1", "P4"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"event_action": "trigger"}, "routing_key"),
        ({"routing_key": "k", "event_action": "explode"}, "event_action"),
        ({"routing_key": "k", "event_action": "trigger"}, "payload"),
        (
            {
                "routing_key": "k",
                "event_action": "trigger",
                "payload": {"source": "s", "severity": "info"},
            },
            "payload.summary",
        ),
        (
            {
                "routing_key": "k",
                "event_action": "trigger",
                "payload": {"summary": "s", "severity": "info"},
            },
            "payload.source",
        ),
        (
            {
                "routing_key": "k",
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "s", "severity": "fatal"},
            },
            "payload.severity",
        ),
        ({"routing_key": "k", "event_action": "resolve"}, "dedup_key"),
        ({"routing_key": "k", "event_action": "trigger", "dedup_key": "x" * 300}, "dedup_key"),
    ],
)
def test_malformed_events_are_refused_with_a_message(body, message):
    with pytest.raises(parsing.IntakeInvalid) as exc:
        parsing.parse_event(body)
    assert any(message in e for e in exc.value.errors), exc.value.errors


def test_body_over_512_kb_is_refused():
    with pytest.raises(parsing.IntakeInvalid, match="512 KB"):
        parsing.load_json(b"{" + b" " * (512 * 1024) + b"}")


# ---------------------------------------------------------------------------- integrity


def test_database_refuses_a_second_open_group_for_the_same_key(integration):
    AlertGroup.objects.create(integration=integration, key="k")
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertGroup.objects.create(integration=integration, key="k")
    AlertGroup.objects.create(integration=integration, key="k", is_open=False)  # history is fine


def test_losing_the_insert_race_joins_the_winners_group(integration, monkeypatch):
    """The race, replayed: our lookup ran before the winner committed its open group, so our
    INSERT hits the partial unique constraint; we must join the winner, not fail or duplicate."""
    deliver_am(integration, am_body(am_alert()))
    winner = AlertGroup.objects.get()
    real = alerts.locked_latest_group
    missed = []

    def lookup_before_the_winner_committed(integration, key):
        if not missed:
            missed.append(key)
            return None
        return real(integration, key)

    monkeypatch.setattr(alerts, "locked_latest_group", lookup_before_the_winner_committed)
    delivery = deliver_am(integration, am_body(am_alert(instance="web-3")))
    assert missed
    delivery.refresh_from_db()
    assert delivery.result == DeliveryResult.PROCESSED
    assert AlertGroup.objects.count() == 1
    assert Incident.objects.count() == 1
    assert winner.alerts.count() == 2


# ---------------------------------------------------------------------------- storms


def test_storm_collapses_new_groups_into_one_announced_storm_incident(integration):
    integration.storm_threshold = 3
    integration.save()
    for i in range(20):
        deliver_am(
            integration, am_body(am_alert(name=f"Down{i}"), group_key=f"{{}}:{{alertname=Down{i}}}")
        )
    assert Incident.objects.count() == 4  # 3 own incidents + 1 storm incident
    storm = Incident.objects.get(title__startswith="Alert storm")
    assert storm.alerts.count() == 17
    announcements = storm.timeline.filter(data__storm=True)
    assert announcements.count() == 1
    assert AlertGroup.objects.filter(is_storm=True).count() == 1


def test_storm_ends_after_the_window(integration):
    integration.storm_threshold = 1
    integration.storm_window_minutes = 5
    integration.save()
    deliver_am(integration, am_body(am_alert(name="A"), group_key="a"))
    deliver_am(integration, am_body(am_alert(name="B"), group_key="b"))  # → storm
    assert Incident.objects.count() == 2
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        deliver_am(integration, am_body(am_alert(name="C"), group_key="c"))
    assert Incident.objects.count() == 3
    assert not Incident.objects.filter(title__startswith="Alert storm", alerts__name="C").exists()


def test_storm_incident_recovers_when_all_its_alerts_resolve(integration):
    integration.storm_threshold = 1
    integration.save()
    deliver_am(integration, am_body(am_alert(name="A"), group_key="a"))
    deliver_am(integration, am_body(am_alert(name="B"), group_key="b"))
    deliver_am(integration, am_body(am_alert(name="C"), group_key="c"))
    storm = Incident.objects.get(title__startswith="Alert storm")
    deliver_am(integration, am_body(am_alert(name="B", status="resolved"), group_key="b"))
    storm.refresh_from_db()
    assert storm.recovered_at is None
    deliver_am(integration, am_body(am_alert(name="C", status="resolved"), group_key="c"))
    storm.refresh_from_db()
    assert storm.state == IncidentState.VERIFYING


# ---------------------------------------------------------------------------- durability


def test_failed_processing_keeps_the_delivery_and_the_sweep_retries_it(integration, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(processing, "apply_group", boom)
    delivery = deliver_am(integration, am_body(am_alert()))
    delivery.refresh_from_db()
    assert delivery.result == DeliveryResult.PENDING
    assert "database hiccup" in delivery.error
    assert Incident.objects.count() == 0
    monkeypatch.undo()
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        assert processing.process_pending_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.result == DeliveryResult.PROCESSED
    assert delivery.attempts == 2
    assert Incident.objects.count() == 1


def test_sweep_gives_up_after_max_attempts(integration, monkeypatch):
    monkeypatch.setattr(processing, "apply_event", lambda *a: 1 / 0)
    deliver_event(integration, event(integration.raw_secret))
    for _ in range(processing.MAX_ATTEMPTS):
        with time_machine.travel(timezone.now() + timedelta(seconds=10)):
            processing.process_pending_deliveries()
    assert Delivery.objects.get().result == DeliveryResult.FAILED


def test_generated_dedup_key_survives_a_retry_from_the_log(integration, monkeypatch):
    """The API stores the generated key in the logged body, so a retry acts on the same key."""
    from rest_framework.test import APIClient

    monkeypatch.setattr(processing, "apply_event", lambda *a: 1 / 0)
    response = APIClient().post(
        "/api/v1/integrations/events/",
        event(integration.raw_secret, dedup_key=None),
        format="json",
    )
    assert response.status_code == 202
    monkeypatch.undo()
    stored = Delivery.objects.get()
    assert integration.raw_secret not in stored.body
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        processing.process_pending_deliveries()
    assert AlertGroup.objects.get().key == response.json()["dedup_key"]


def test_old_deliveries_are_pruned_but_pending_ones_kept(integration):
    integration.delivery_retention_days = 7
    integration.save()
    old = timezone.now() - timedelta(days=8)
    Delivery.objects.create(
        integration=integration, format="events_v2", body="{}", received_at=old, result="processed"
    )
    Delivery.objects.create(integration=integration, format="events_v2", body="{}", received_at=old)
    Delivery.objects.create(
        integration=integration, format="events_v2", body="{}", result="processed"
    )
    assert processing.prune_deliveries() == 1
    assert Delivery.objects.count() == 2
