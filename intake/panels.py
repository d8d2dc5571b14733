"""The alerts panel of the incident page (registered with ``incidents.panels`` by
``IntakeConfig.ready``): the incident's alerts and, on a storm incident, its alert groups —
each with its service, priority and alert counts, and a split button for operators and up. No
query beyond the alerts on pages of incidents that have none."""

from __future__ import annotations

from incidents.panels import Panel

from . import selectors, services


def alerts_context(request, incident) -> dict | None:
    alerts = list(incident.alerts.all())
    if not alerts:
        return None
    user = getattr(request, "user", None)
    groups = list(selectors.member_groups(incident, with_storm=True))
    return {
        "alerts": alerts,
        "storm": any(group.is_storm for group in groups),
        "groups": [group for group in groups if not group.is_storm],
        "can_split": bool(user) and incident.is_open and services.can_split(user),
    }


ALERTS_PANEL = Panel("alerts", "intake/partials/_alerts.html", alerts_context, order=10)
