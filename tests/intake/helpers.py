"""Payload builders shared by the intake tests (real shapes from Alertmanager, Grafana, PagerDuty)."""

from __future__ import annotations

import hashlib

import pytest
from django.core.cache import cache

from intake import acceptance, processing
from intake import services as intake_services


def am_alert(name="HighErrorRate", status="firing", instance="web-1", severity="critical", **extra):
    labels = {"alertname": name, "instance": instance, "severity": severity, "job": "api"}
    labels.update(extra.pop("labels", {}))
    fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{name} on {instance}", "description": "5xx above 5%"},
        "startsAt": "2024-05-01T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2024-05-01T10:30:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=rate",
        "fingerprint": fingerprint,
    }
    alert.update(extra)
    return alert


def am_body(*alerts, group_key='{}:{alertname="HighErrorRate"}', **extra):
    statuses = {a["status"] for a in alerts}
    body = {
        "receiver": "itsm",
        "status": "firing" if "firing" in statuses else "resolved",
        "alerts": list(alerts),
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "job": "api"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    }
    body.update(extra)
    return body


def event(routing_key, action="trigger", dedup_key="disk-db1", severity="critical", **payload):
    body = {"routing_key": routing_key, "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {
            "summary": "Disk 95% full on db-1",
            "source": "db-1",
            "severity": severity,
            **payload,
        }
    return body


@pytest.fixture(name="integration")
def integration_fixture(db):
    found, raw = intake_services.create_integration(name="Prometheus", kind="generic")
    found.raw_secret = raw
    found.rate_limit_per_minute = 0
    found.save()
    # Ids repeat across tests; the cache and the process's bell memory outlive them.
    cache.delete(acceptance.bell_key(found.pk))
    acceptance._bell_seen.pop(found.pk, None)
    return found


def process(integration) -> int:
    """Run the delivery processor as the Celery worker would (the endpoints only store)."""
    return processing.process_deliveries(integration.pk)


@pytest.fixture(name="intake_worker")
def intake_worker_fixture(monkeypatch):
    """For live-server tests: the doorbell rung after commit runs the processor at once, as an
    idle Celery worker would, instead of writing to a broker nobody reads in tests."""
    from intake import tasks as intake_tasks

    rung = []
    # A bell key left in the cache by an earlier test (same integration id) must not mute ours.
    monkeypatch.setattr(acceptance, "bell_key", lambda pk: f"intake-bell:{id(rung)}:{pk}")
    # The run below does not linger (it runs inside the request), so every delivery rings.
    monkeypatch.setattr(acceptance, "BELL_QUIET", 0)

    def run_now(integration_id):
        rung.append(integration_id)
        return processing.process_deliveries(integration_id)

    monkeypatch.setattr(intake_tasks.process_deliveries, "delay", run_now)
    return rung
