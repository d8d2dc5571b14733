"""Monitoring intake use cases of people (DESIGN.md § Monitoring intake):

- ``create_integration``, ``add_integration``, ``update_integration``, ``rotate_secret``,
  ``revoke_secret``: integrations as data, each with its own hashed, revocable secret and default
  mapping rules (``severity=critical`` → P1 …), every change audited;
- ``split_group``: split an alert group out of the storm incident it joined (operators and up;
  409 when it already has its own incident).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.choices import Priority, TimelineKind
from incidents.models import Incident
from itsm.core import workflow
from itsm.core.audit import record_event
from itsm.core.roles import ops_rank

from .alerts import opening
from .groups import incident_title, mapping, triage_inputs
from .models import Alert, AlertGroup, AlertStatus, Integration, IntegrationKind, MappingRule

DEFAULT_RULES = [
    ("severity", "critical", Priority.P1),
    ("severity", "error", Priority.P2),
    ("severity", "warning", Priority.P3),
    ("severity", "info", Priority.P4),
]


def create_integration(
    *, name: str, kind: str = IntegrationKind.ALERTMANAGER, actor=None, **fields
) -> tuple[Integration, str]:
    """Create an integration with the default severity rules; returns ``(integration, secret)``.
    The secret is shown once and only its digest is kept."""
    return add_integration(Integration(name=name, kind=kind, **fields), actor=actor)


def add_integration(
    integration: Integration, *, actor=None, default_rules: bool = True
) -> tuple[Integration, str]:
    """Save a new (unsaved) integration with a new secret, audited; returns it and the secret.
    ``default_rules=False`` when the caller adds its own rules (the admin's inline rules get the
    defaults afterwards only if none were given: ``add_default_rules``)."""
    integration.name = (integration.name or "").strip()
    if not integration.name:
        raise ValidationError({"name": _("A name is required.")})
    if integration.kind not in IntegrationKind.values:
        raise ValidationError({"kind": _("Unknown integration kind.")})
    with transaction.atomic():
        raw = integration.set_new_secret()
        integration.save()
        if default_rules:
            add_default_rules(integration)
        record_event(integration, action="create", actor=actor, data={"kind": integration.kind})
    return integration, raw


def update_integration(integration: Integration, *, actor, changed: list[str]) -> Integration:
    """Save an edited integration (its settings, not its secret), audited with the fields changed."""
    with transaction.atomic():
        integration.save()  # (forgets this process's cached copy; others' expire within seconds)
        record_event(integration, action="update", actor=actor, data={"fields": sorted(changed)})
    return integration


def add_default_rules(integration: Integration) -> None:
    if integration.rules.exists():
        return
    MappingRule.objects.bulk_create(
        MappingRule(integration=integration, order=(i + 1) * 10, label=lbl, value=val, priority=p)
        for i, (lbl, val, p) in enumerate(DEFAULT_RULES)
    )


def rotate_secret(integration: Integration, *, actor) -> str:
    """Issue a new secret (the old one stops working at once); returns it, shown once."""
    with transaction.atomic():
        raw = integration.set_new_secret()
        integration.save(
            update_fields=[
                "secret_prefix",
                "secret_digest",
                "secret_issued_at",
                "secret_revoked_at",
            ]
        )
        record_event(integration, action="rotate_secret", actor=actor)
    return raw


def revoke_secret(integration: Integration, *, actor) -> Integration:
    with transaction.atomic():
        integration.secret_revoked_at = timezone.now()
        integration.save(update_fields=["secret_revoked_at"])
        record_event(integration, action="revoke_secret", actor=actor)
    return integration


class GroupNotSplittable(workflow.TransitionError):
    """The group cannot be split out (API 409); ``incident`` names the incident it is on."""

    code = "not_splittable"
    status = 409


def can_split(user) -> bool:
    """Operators and up (the ops ladder) who may work incidents."""
    return user.has_perm("incidents.change_incident") and ops_rank(user) >= 1


def split_group(group_id: int, *, actor) -> Incident:
    """Split an alert group out of the storm incident it joined into its own incident.

    The new incident gets the group's service and priority from the integration's mapping rules
    (applied to the group's alerts now, as when a group opens its own incident) and its team;
    the group and its alerts move to it; both timelines say so, linked. The storm incident keeps
    its priority (it never lowers). Refused (``GroupNotSplittable``, 409) when the group already
    has its own incident — so a repeated split changes nothing — when it is the storm group
    itself, or when the storm incident or the group's episode has ended.
    """
    if not can_split(actor):
        raise workflow.TransitionForbidden(_("Only an operator or above may split alert groups."))
    with transaction.atomic():
        group = (
            AlertGroup.objects.select_for_update(of=("self",))
            .select_related("incident", "integration")
            .filter(pk=group_id)
            .first()
        )
        if group is None:
            raise AlertGroup.DoesNotExist
        storm = group.incident
        if group.is_storm:
            raise GroupNotSplittable(_("The storm itself is not an alert group to split out."))
        if storm is None or group.opened_incident:
            raise GroupNotSplittable(
                _("This alert group already has its own incident."),
                incident=storm.number if storm else None,
            )
        if not storm.is_open or not group.is_open:
            raise GroupNotSplittable(
                _("Only an open alert group on an open storm incident can be split out."),
                incident=storm.number,
            )
        integration = group.integration
        alerts = list(group.alerts.order_by("first_seen_at", "id"))
        firing = [a for a in alerts if a.status == AlertStatus.FIRING] or alerts
        rules = list(integration.rules.select_related("service"))
        if firing:
            mappings = [mapping(integration, {**group.labels, **a.labels}, rules) for a in firing]
            inputs = triage_inputs(integration, mappings)
        else:  # no alert stored (yet): what the group opened with
            inputs = {
                "priority": group.priority or integration.default_priority,
                "service": group.service or integration.service,
            }
        first = firing[0] if firing else None
        name = group.labels.get("alertname") or (first.name if first else group.key)
        title = incident_title(str(name), first.summary if first else "")
        lines = [
            _("Split out of the alert storm incident %(storm)s.") % {"storm": storm.number},
            "",
            *(f"{k}={v}" for k, v in sorted(group.labels.items())),
        ]
        starts = [a.starts_at or a.first_seen_at for a in alerts]
        opener = {
            "title": title,
            "description": "\n".join(lines),
            "detected_at": min([*starts, group.opened_at]),
            **inputs,
        }
        [incident] = incident_services.open_incidents(
            [opening(integration, opener, group.opened_at, notes=())],
            actor=actor,
            system_label=integration.name,
        )
        moved = Alert.objects.filter(group=group).update(incident=incident)
        AlertGroup.objects.filter(pk=group.pk).update(
            incident=incident,
            opened_incident=True,
            priority=incident.priority,
            service=incident.service,
        )
        data = {"group": group.pk, "key": group.key, "alerts": moved}
        incident_services.add_timeline_entry(
            incident,
            actor=actor,
            kind=TimelineKind.LINK,
            text=_("Alert group “%(group)s” (%(n)d alerts) split out of the alert storm %(storm)s.")
            % {"group": group.name, "n": moved, "storm": storm.number},
            data={**data, "split_from": storm.number},
        )
        incident_services.add_timeline_entry(
            storm,
            actor=actor,
            kind=TimelineKind.LINK,
            text=_("Alert group “%(group)s” (%(n)d alerts) split out into %(new)s.")
            % {"group": group.name, "n": moved, "new": incident.number},
            data={**data, "split_to": incident.number},
        )
        record_event(
            storm,
            action="split_alert_group",
            actor=actor,
            data={**data, "incident": incident.number},
        )
    return incident


def move_alerts(duplicate, survivor) -> int:
    """A merge (``incidents.merging``): the duplicate's alerts and alert groups follow it into
    the surviving incident, so the alerts still firing update the survivor. How many alerts."""
    AlertGroup.objects.filter(incident=duplicate).update(incident=survivor)
    return Alert.objects.filter(incident=duplicate).update(incident=survivor)
