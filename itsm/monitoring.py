"""The domain figures of /metrics, read at scrape time (docs/monitoring.md).

Lives in the composition root because it reads several apps (``itsm.core`` imports none).
Each figure is one indexed query, so a scrape costs the same with 1M closed incidents as with
a hundred:

- escalation sweep lag: ``MIN(next_deadline_at)`` on its index (``incident_next_deadline_at``);
- open incidents by priority and those past their resolution target: the partial index of
  open incidents (``incident_open_priority``);
- intake backlog: the partial index of pending deliveries (``delivery_pending``);
- notification failures: the partial index of failed rows (``notification_failed``).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from incidents.choices import IncidentState, Priority
from incidents.models import Incident
from intake.models import Delivery, DeliveryResult
from itsm.core.models import DeliveryStatus, Notification, NotificationChannel
from itsm.core.monitoring.views import metrics_view

RECENT_FAILURES = timedelta(hours=1)


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())


class EscalationCollector:
    def collect(self):
        now = timezone.now()
        oldest = Incident.objects.filter(next_deadline_at__lte=now).aggregate(
            oldest=Min("next_deadline_at")
        )["oldest"]
        yield GaugeMetricFamily(
            "itsm_escalation_sweep_lag_seconds",
            "Age of the oldest escalation deadline that has passed without its step being "
            "applied (0 when none is due).",
            value=_seconds(now - oldest) if oldest else 0.0,
        )


class IncidentCollector:
    def collect(self):
        now = timezone.now()
        open_incidents = Incident.objects.exclude(state=IncidentState.CLOSED)

        def by_priority(rows) -> dict[str, int]:
            return dict(rows.values_list("priority").annotate(n=Count("*")).order_by())

        # Two queries: the count alone is an index-only scan of the open incidents' partial
        # index; the overdue one reads their rows (its cost grows with the open incidents only).
        opened = by_priority(open_incidents)
        overdue = by_priority(
            open_incidents.filter(resolution_due_at__lt=now, fixed_at__isnull=True)
        )
        open_family = GaugeMetricFamily(
            "itsm_incidents_open", "Incidents not closed, by priority.", labels=["priority"]
        )
        overdue_family = GaugeMetricFamily(
            "itsm_incidents_resolution_overdue",
            "Open incidents, not yet fixed, past their resolution target, by priority.",
            labels=["priority"],
        )
        for priority in Priority.values:
            open_family.add_metric([priority], opened.get(priority, 0))
            overdue_family.add_metric([priority], overdue.get(priority, 0))
        yield open_family
        yield overdue_family


class IntakeCollector:
    def collect(self):
        now = timezone.now()
        pending = Delivery.objects.filter(result=DeliveryResult.PENDING).aggregate(
            count=Count("id"), oldest=Min("received_at")
        )
        yield GaugeMetricFamily(
            "itsm_intake_pending_deliveries",
            "Accepted monitoring deliveries not processed yet (retried by the sweep).",
            value=pending["count"],
        )
        yield GaugeMetricFamily(
            "itsm_intake_oldest_pending_delivery_age_seconds",
            "Age of the oldest pending delivery (0 when none is pending).",
            value=_seconds(now - pending["oldest"]) if pending["oldest"] else 0.0,
        )


class NotificationCollector:
    def collect(self):
        since = timezone.now() - RECENT_FAILURES
        rows = {
            row["channel"]: row
            for row in Notification.objects.filter(status=DeliveryStatus.FAILED)
            .values("channel")
            .annotate(total=Count("id"), recent=Count("id", filter=Q(created_at__gte=since)))
            .order_by()
        }
        total = GaugeMetricFamily(
            "itsm_notifications_failed",
            "Notifications whose delivery failed for good (retries exhausted), by channel. "
            "Goes down when failed rows are deleted or resent.",
            labels=["channel"],
        )
        recent = GaugeMetricFamily(
            "itsm_notifications_failed_last_hour",
            "Failed notifications created within the last hour, by channel.",
            labels=["channel"],
        )
        for channel in NotificationChannel.values:
            row = rows.get(channel, {})
            total.add_metric([channel], row.get("total", 0))
            recent.add_metric([channel], row.get("recent", 0))
        yield total
        yield recent


SOURCES = {
    "escalation": EscalationCollector(),
    "incidents": IncidentCollector(),
    "intake": IntakeCollector(),
    "notifications": NotificationCollector(),
}

metrics = metrics_view(SOURCES)
