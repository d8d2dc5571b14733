"""Reads of the monitoring intake for pages and the API."""

from __future__ import annotations

from django.db.models import Count, Q

from incidents.choices import IncidentState
from incidents.models import Incident

from .models import AlertGroup, AlertStatus, Delivery, Integration


def recent_deliveries(integration: Integration, limit: int = 50):
    return Delivery.objects.filter(integration=integration).order_by("-received_at", "-id")[:limit]


def open_groups(integration: Integration):
    return (
        AlertGroup.objects.filter(integration=integration, is_open=True)
        .filter(Q(incident__isnull=True) | ~Q(incident__state=IncidentState.CLOSED))
        .select_related("incident")
    )


def member_groups(incident: Incident, *, with_storm: bool = False):
    """The alert groups feeding ``incident`` (a storm incident's members), with their service
    and alert counts, oldest first; ``with_storm``: the storm group row too (one query tells
    the incident page whether it is a storm incident and lists the members)."""
    groups = AlertGroup.objects.filter(incident=incident)
    return (
        (groups if with_storm else groups.filter(is_storm=False))
        .select_related("service", "integration")
        .annotate(
            alert_count=Count("alerts"),
            firing_count=Count("alerts", filter=Q(alerts__status=AlertStatus.FIRING)),
        )
        .order_by("opened_at", "id")
    )
