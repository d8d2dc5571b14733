"""Demo monitoring integrations (idempotent): an Alertmanager one with a few alerts that opened
an incident, and an Events v2 one. Called by ``manage.py seed_demo`` after ``incidents.demo``."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from itsm.core.models import Service, User

from . import acceptance, parsing, processing, services
from .models import Integration, MappingRule


def seed(users: dict[str, User]) -> None:
    service = Service.objects.order_by("pk").first()
    prometheus = Integration.objects.filter(name="Prometheus (production)").first()
    if prometheus is None:
        prometheus, _raw = services.create_integration(
            name="Prometheus (production)",
            kind="alertmanager",
            description="Alertmanager of the production cluster.",
            service=service,
        )
        MappingRule.objects.get_or_create(
            integration=prometheus,
            label="team",
            value="payments",
            defaults={"order": 1, "priority": "P2"},
        )
        body = {
            "version": "4",
            "groupKey": '{}:{alertname="HighErrorRate"}',
            "status": "firing",
            "receiver": "itsm",
            "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": {"alertname": "HighErrorRate", "job": "api", "severity": "warning"},
            "commonAnnotations": {"summary": "5xx rate above 5% on the API"},
            "externalURL": "http://alertmanager.example:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": "HighErrorRate",
                        "job": "api",
                        "severity": "warning",
                        "instance": host,
                    },
                    "annotations": {"summary": "5xx rate above 5% on the API"},
                    "startsAt": "2024-05-01T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example:9090/graph?g0.expr=rate",
                    "fingerprint": f"demo{index:012d}",
                }
                for index, host in enumerate(["api-1", "api-2", "api-3"])
            ],
        }
        acceptance.accept_delivery(
            prometheus,
            fmt="alertmanager",
            body=json.dumps(body).encode(),
            message=parsing.parse_alertmanager(body),
        )
        processing.process_deliveries(prometheus.pk)  # as the worker would, so the demo shows it
    if not Integration.objects.filter(name="Uptime checks (Events v2)").exists():
        uptime, raw = services.create_integration(
            name="Uptime checks (Events v2)", kind="events_v2", service=service
        )
        _flap(uptime, raw)


def _flap(integration: Integration, routing_key: str) -> None:
    """A check that failed for four minutes and recovered on its own: the monitor resolves the
    incident with nobody responding, so the dashboard's *auto-recovered* tile has an example."""
    started = timezone.now() - timedelta(minutes=4)
    for body in (
        {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": "demo-uptime-login",
            "payload": {
                "summary": "Login page check failed (HTTP 503)",
                "source": "uptime-tokyo",
                "severity": "warning",
                "timestamp": started.isoformat(),
            },
        },
        {"routing_key": routing_key, "event_action": "resolve", "dedup_key": "demo-uptime-login"},
    ):
        acceptance.accept_delivery(
            integration,
            fmt="events_v2",
            body=json.dumps(body).encode(),
            message=parsing.parse_event(body),
        )
    processing.process_deliveries(integration.pk)
