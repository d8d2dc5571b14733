"""What a PagerDuty Events v2 event does: trigger opens or repeats, acknowledge = start
response, resolve = recovered (the dedup key's episode ends)."""

from __future__ import annotations

import json

from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.choices import IncidentState
from incidents.models import Incident

from .alerts import alert_notes, new_groups, new_keys, open_group, opening, recover, timeline_alerts
from .groups import Context, close_group, mapping, triage_inputs
from .models import Alert, AlertGroup, AlertStatus, Integration
from .parsing import EventIn


def apply_event(integration: Integration, event: EventIn, context: Context) -> list[Incident]:
    """One Events v2 event: trigger opens or repeats, acknowledge = start response, resolve =
    recovered (the dedup key's episode ends, so a later trigger opens a new incident)."""
    now = timezone.now()
    opener = _opener(integration, event, context, now) if event.action == "trigger" else None
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
        if alert is None:
            alert = _alert(group, event, now)
            alert.save(force_insert=True)
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


def open_new_keys(integration: Integration, events: list[EventIn], context: Context) -> dict:
    """Open the incidents of triggers whose dedup keys the integration has never seen, all
    together (issue 20: a monitoring outage sends hundreds at once): the incidents
    (``incidents.services.open_incidents``), their groups and their alerts, one INSERT each.
    ``events``: triggers of distinct keys, none of them acted on earlier in the batch; the keys
    ``alerts.new_keys`` leaves out go the one-by-one way (``apply_event``). Returns {dedup key:
    incident}."""
    fresh = new_keys(integration, events, key=lambda e: e.dedup_key, context=context)
    if not fresh:
        return {}
    now = timezone.now()
    openers = [_opener(integration, event, context, now) for event in fresh]
    alerts = [_alert(None, event, now) for event in fresh]
    incidents = incident_services.open_incidents(
        [
            opening(integration, opener, now, notes=alert_notes(firing=[alert], resolved=[]))
            for opener, alert in zip(openers, alerts, strict=True)
        ],
        actor=None,
        system_label=integration.name,
    )
    groups = new_groups(integration, [e.dedup_key for e in fresh], openers, incidents, now, context)
    for alert, group in zip(alerts, groups, strict=True):
        alert.group, alert.incident = group, group.incident
    Alert.objects.bulk_create(alerts)
    return {event.dedup_key: incident for event, incident in zip(fresh, incidents, strict=True)}


def _opener(integration: Integration, event: EventIn, context: Context, now) -> dict:
    """What a trigger opens its incident with (``open_group``'s ``opener``)."""
    labels = event.labels
    description = [event.summary, "", f"source={event.source}"]
    description += [f"{k}={v}" for k, v in sorted(labels.items()) if k != "source"]
    if event.custom_details is not None:
        description += ["", json.dumps(event.custom_details, ensure_ascii=False, indent=2)]
    description += [link["href"] for link in event.links]
    return {
        "title": event.summary[:200],
        "description": "\n".join(description),
        "labels": labels,
        "detected_at": min(event.timestamp or now, now),
        **triage_inputs(integration, [mapping(integration, labels, context.rules)]),
    }


def _alert(group: AlertGroup | None, event: EventIn, now) -> Alert:
    """The trigger's alert, not saved yet."""
    return Alert(
        group=group,
        incident=group.incident if group is not None else None,
        fingerprint=event.dedup_key,
        name=event.summary[:255],
        summary=event.summary,
        labels=event.labels,
        annotations={"custom_details": event.custom_details} if event.custom_details else {},
        starts_at=event.timestamp or now,
        generator_url=event.client_url or (event.links[0]["href"] if event.links else ""),
        first_seen_at=now,
        last_seen_at=now,
    )
