"""A service's status on the status page (issue 17 §3): derived from its open incidents'
priority and state, unless the incident's commander set it.

- an incident nobody triaged yet says nothing (a user report is not yet an outage);
- a triaged open incident implies its priority's status (``PriorityComms.service_status``,
  defaults P1 major outage, P2 partial outage, P3/P4 degraded);
- a recovered incident (verifying), or one whose last update said *resolved*, implies
  operational;
- the commander's setting on the incident wins over all of that while the incident is open;
- the service's status is the worst of its open incidents'.
"""

from __future__ import annotations

from incidents.choices import IncidentState

from .choices import ServiceStatus, UpdateStatus, worst

QUIET_STATES = (IncidentState.DETECTED, IncidentState.VERIFYING, IncidentState.CLOSED)


def incident_status(
    *, priority: str, state: str, override: str = "", last_update_status: str = "", rules
) -> str:
    """The status one incident implies for its service (``rules``: ``PriorityComms.table()``)."""
    if state == IncidentState.CLOSED:
        return ServiceStatus.OPERATIONAL
    if override:
        return override
    if state in QUIET_STATES or last_update_status == UpdateStatus.RESOLVED or not priority:
        return ServiceStatus.OPERATIONAL
    rule = rules.get(priority)
    return rule.service_status if rule else ServiceStatus.DEGRADED


def service_statuses(service_ids, incidents, rules) -> dict[int, str]:
    """``{service_id: status}`` for ``service_ids`` from their open ``incidents`` (objects with
    ``service_id`` and ``status``)."""
    found: dict[int, list[str]] = {pk: [] for pk in service_ids}
    for incident in incidents:
        if incident.service_id in found:
            found[incident.service_id].append(incident.status)
    return {pk: worst(statuses) for pk, statuses in found.items()}
