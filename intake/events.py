"""What a PagerDuty Events v2 event does: trigger opens or repeats, acknowledge = start
response, resolve = recovered (the dedup key's episode ends)."""

from __future__ import annotations

import json

from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.choices import IncidentState
from incidents.models import Incident

from .alerts import open_group, recover, timeline_alerts
from .groups import Context, close_group, mapping, triage_inputs
from .models import Alert, AlertStatus, Integration
from .parsing import EventIn


def apply_event(integration: Integration, event: EventIn, context: Context) -> list[Incident]:
    """One Events v2 event: trigger opens or repeats, acknowledge = start response, resolve =
    recovered (the dedup key's episode ends, so a later trigger opens a new incident)."""
    now = timezone.now()
    if event.action == "trigger":
        rules = context.rules
        labels = event.labels
        description = [event.summary, "", f"source={event.source}"]
        description += [f"{k}={v}" for k, v in sorted(labels.items()) if k != "source"]
        if event.custom_details is not None:
            description += ["", json.dumps(event.custom_details, ensure_ascii=False, indent=2)]
        description += [link["href"] for link in event.links]
        opener = {
            "title": event.summary[:200],
            "description": "\n".join(description),
            "labels": labels,
            "detected_at": min(event.timestamp or now, now),
            **triage_inputs(integration, [mapping(integration, labels, rules)]),
        }
    else:
        opener = None
    group = open_group(integration, event.dedup_key, opener=opener, context=context)
    if group is None:
        return []  # acknowledge/resolve with nothing open: accepted and dropped, like PagerDuty
    incident = group.incident
    alert = (
        None
        if getattr(group, "is_new", False)
        else Alert.objects.filter(group=group, fingerprint=event.dedup_key).first()
    )
    if event.action == "trigger":
        href = event.client_url or (event.links[0]["href"] if event.links else "")
        if alert is None:
            alert = Alert.objects.create(
                group=group,
                incident=incident,
                fingerprint=event.dedup_key,
                name=event.summary[:255],
                summary=event.summary,
                labels=labels,
                annotations={"custom_details": event.custom_details}
                if event.custom_details
                else {},
                starts_at=event.timestamp or now,
                generator_url=href,
                first_seen_at=now,
                last_seen_at=now,
            )
            timeline_alerts(incident, integration, firing=[alert], resolved=[])
        else:
            Alert.objects.filter(pk=alert.pk).update(
                repeat_count=alert.repeat_count + 1, last_seen_at=now, summary=event.summary
            )
        return [incident]
    if event.action == "acknowledge":
        if incident.state == IncidentState.TRIAGED:
            incident_services.transition(
                incident,
                "start_response",
                actor=None,
                comment=_("Acknowledged by the monitoring tool."),
                system_label=integration.name,
            )
        else:
            incident_services.add_timeline_entry(
                incident,
                actor=None,
                system_label=integration.name,
                text=_("Acknowledged by the monitoring tool."),
            )
        return [incident]
    # resolve
    if alert is not None:
        Alert.objects.filter(pk=alert.pk).update(
            status=AlertStatus.RESOLVED, ends_at=now, resolved_at=now, last_seen_at=now
        )
        alert.status = AlertStatus.RESOLVED
    close_group(group)
    timeline_alerts(incident, integration, firing=[], resolved=[alert] if alert else [])
    if not incident.alerts.filter(status=AlertStatus.FIRING).exists():
        recover(incident, integration, _("Resolved by the monitoring tool."))
    return [incident]
