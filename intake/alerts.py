"""What an Alertmanager delivery does: upsert its alerts by fingerprint, open or join the group's
incident (at most one open per key, held by the database), record firing/resolved on the
timeline, recover the incident when all its alerts are resolved (never close it), and open a new
linked incident when a group fires again after its incident was closed. Incidents are opened,
updated and recovered only through ``incidents.services``."""

from __future__ import annotations

import json

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.choices import IncidentState, Source, TimelineKind
from incidents.models import Incident

from .groups import (
    Context,
    close_group,
    incident_title,
    locked_latest_group,
    locked_open_group,
    mapped_priority,
    mapping,
    triage_inputs,
)
from .models import Alert, AlertGroup, AlertStatus, Integration
from .parsing import AlertIn, GroupIn
from .storms import join_storm, opened, room, storm_incident, storming


def open_group(integration, key, *, opener, context: Context) -> AlertGroup | None:
    """The open group for ``key``, locked; a new one (with its incident) when ``opener`` is given.

    The processor holds the integration's lock, so deliveries of one integration are applied
    one at a time; the partial unique constraint still holds the invariant on its own: an
    INSERT that loses a race catches the IntegrityError and joins the winner's group.
    """
    # The newest episode of the key is the open one if there is one, else the previous episode.
    latest = locked_latest_group(integration, key)
    group = latest if latest is not None and latest.is_open else None
    previous = None if group is not None else latest
    if group is not None and (
        group.incident is None or group.incident.state == IncidentState.CLOSED
    ):
        close_group(group)
        previous, group = group, None
    if group is not None or opener is None:
        return group
    storm = context.storm
    priority = opener.get("priority") or ""
    if storm is not None and not priority:
        priority = mapped_priority(integration, opener)
    try:
        with transaction.atomic():
            group = AlertGroup.objects.create(
                integration=integration,
                key=key,
                previous=previous,
                labels=opener["labels"],
                service=opener["service"],
                priority=priority,
                incident=storm,  # known storming: the new group joins at once
            )
    except IntegrityError:
        return locked_open_group(integration, key, wait=True)
    group.is_new = True
    if storm is not None:
        join_storm(storm, group, integration)
        return group
    if storming(integration, group, context):
        group.priority = group.priority or mapped_priority(integration, opener)
        context.storm = group.incident = storm_incident(integration, group)
        AlertGroup.objects.filter(pk=group.pk).update(
            incident=group.incident, priority=group.priority
        )
        join_storm(group.incident, group, integration)
        return group
    [incident] = incident_services.open_incidents(
        [opening(integration, opener, timezone.now(), notes=())],
        actor=None,
        system_label=integration.name,
    )
    group.incident = incident
    group.opened_incident = True
    group.priority = incident.priority
    AlertGroup.objects.filter(pk=group.pk).update(
        incident=incident, opened_incident=True, priority=incident.priority
    )
    if previous is not None and previous.incident is not None:
        link_episodes(incident, previous.incident, integration)
    return group


def link_episodes(new: Incident, old: Incident, integration: Integration) -> None:
    incident_services.add_timeline_entry(
        new,
        actor=None,
        kind=TimelineKind.LINK,
        system_label=integration.name,
        text=_("The same alerts fired again after %(old)s.") % {"old": old.number},
        data={"previous_incident": old.number},
    )
    incident_services.add_timeline_entry(
        old,
        actor=None,
        kind=TimelineKind.LINK,
        system_label=integration.name,
        text=_("The same alerts fired again: %(new)s opened.") % {"new": new.number},
        data={"next_incident": new.number},
    )


def _names(alerts, limit: int = 5) -> str:
    names = [a.name for a in alerts[:limit]]
    more = len(alerts) - limit
    text = ", ".join(names)
    return text + (_(" and %(n)d more") % {"n": more} if more > 0 else "")


def alert_notes(*, firing, resolved) -> list[tuple[str, dict]]:
    """The timeline's texts and data for alerts that started firing and that resolved."""
    notes = []
    if firing:
        notes.append(
            (
                _("%(n)d alert(s) firing: %(names)s") % {"n": len(firing), "names": _names(firing)},
                {"alerts": "firing", "fingerprints": [a.fingerprint for a in firing[:50]]},
            )
        )
    if resolved:
        notes.append(
            (
                _("%(n)d alert(s) resolved: %(names)s")
                % {"n": len(resolved), "names": _names(resolved)},
                {"alerts": "resolved", "fingerprints": [a.fingerprint for a in resolved[:50]]},
            )
        )
    return notes


def timeline_alerts(incident, integration, *, firing, resolved) -> None:
    for text, data in alert_notes(firing=firing, resolved=resolved):
        incident_services.add_timeline_entry(
            incident, actor=None, system_label=integration.name, text=text, data=data
        )


# The states an incident can be auto-recovered from (``Incident.auto_recover``): an
# untriaged incident waits for a person, a verifying or closed one is recovered already.
AUTO_RECOVERABLE = frozenset(
    {IncidentState.TRIAGED, IncidentState.INVESTIGATING, IncidentState.RECOVERING}
)


def recover(incident: Incident, integration: Integration, reason: str) -> None:
    """Resolve = recovered (まず復旧): the incident goes to ``verifying`` with its recovery time;
    a person verifies and closes it. The monitor's resolve is not a response: unless a person
    or an API client (Events v2 ``acknowledge``) responded before, the incident keeps no
    ``response_started_at`` and counts as auto-recovered, not in MTTA or response compliance
    (docs/metrics.md § Incidents)."""
    if not integration.auto_recover or incident.state not in AUTO_RECOVERABLE:
        return
    by_monitor = (
        _("Recovered by the monitor; nobody has responded.")
        if incident.response_started_at is None
        else _("Recovered by the monitor.")
    )
    comment = f"{reason} {by_monitor}"
    incident_services.transition(
        incident, "auto_recover", actor=None, comment=comment, system_label=integration.name
    )


def fired_again(incident: Incident, integration: Integration) -> None:
    """Alerts fire again on an incident that the intake had marked recovered: back to work —
    to ``recovering`` when somebody had responded, else back to ``triaged``, waiting for one."""
    if incident.state == IncidentState.VERIFYING and integration.auto_recover:
        incident_services.transition(
            incident,
            "alerts_refire" if incident.response_started_at is None else "reject_fix",
            actor=None,
            comment=_("Alerts are firing again."),
            system_label=integration.name,
        )


def _alert_title(message: GroupIn, firing: list[AlertIn]) -> str:
    """The alert name and summary. No alert count: the count changes with every delivery and a
    title is not rewritten for that (the incident page counts the alerts, live)."""
    first = firing[0]
    name = message.common_labels.get("alertname") or first.name
    summary = message.common_annotations.get("summary") or first.summary
    return incident_title(name, summary)


def _alert_description(message: GroupIn, firing: list[AlertIn]) -> str:
    lines = []
    text = message.common_annotations.get("description") or firing[0].annotations.get(
        "description", ""
    )
    if text:
        lines += [text, ""]
    labels = message.common_labels or firing[0].labels
    lines += [f"{k}={v}" for k, v in sorted(labels.items())]
    if message.external_url:
        lines += ["", message.external_url]
    return "\n".join(lines)


def apply_group(integration: Integration, message: GroupIn, context: Context) -> list[Incident]:
    """One Alertmanager notification: upsert its alerts by fingerprint within the group's open
    episode (one query for the existing fingerprints, one INSERT for the new alerts, one UPDATE
    for the plain repeats); firing opens or joins, resolved is recorded once per delivery on the
    timeline (repeats add nothing there); all resolved → recovered."""
    now = timezone.now()
    opener = _group_opener(integration, message, context, now)
    group = open_group(integration, message.key, opener=opener, context=context)
    if group is None:
        # Resolutions for an episode that was closed by a person: record them on its alerts.
        last = (
            AlertGroup.objects.filter(integration=integration, key=message.key, is_storm=False)
            .order_by("-opened_at", "-id")
            .first()
        )
        if last is not None:
            Alert.objects.filter(
                group=last,
                fingerprint__in=[a.fingerprint for a in message.alerts],
                status=AlertStatus.FIRING,
            ).update(status=AlertStatus.RESOLVED, resolved_at=now, last_seen_at=now)
        return []
    incident = group.incident
    existing = (
        {}
        if getattr(group, "is_new", False)
        else {
            a.fingerprint: a
            for a in Alert.objects.filter(
                group=group, fingerprint__in=[a.fingerprint for a in message.alerts]
            )
        }
    )
    new_rows, changed, newly_firing, newly_resolved = [], [], [], []
    repeats: dict[str, list[int]] = {AlertStatus.FIRING: [], AlertStatus.RESOLVED: []}
    for item in message.alerts:
        row = existing.get(item.fingerprint)
        if row is None:
            new_rows.append(_new_alert(item, group=group, incident=incident, now=now))
            (newly_firing if item.status == AlertStatus.FIRING else newly_resolved).append(item)
            continue
        if _same_alert(row, item):
            repeats[item.status].append(row.pk)  # the usual case: Alertmanager resends the group
            continue
        if row.status != item.status:
            (newly_firing if item.status == AlertStatus.FIRING else newly_resolved).append(item)
        elif item.status == AlertStatus.FIRING:
            row.repeat_count += 1
        changed.append(row)
        row.status = item.status
        row.name = item.name
        row.summary = item.summary
        row.labels = item.labels
        row.annotations = item.annotations
        row.starts_at = item.starts_at or row.starts_at
        row.ends_at = item.ends_at
        row.generator_url = item.generator_url
        row.last_seen_at = now
        row.resolved_at = (row.resolved_at or now) if item.status == AlertStatus.RESOLVED else None
    _insert_alerts(new_rows)
    if repeats[AlertStatus.FIRING]:
        Alert.objects.filter(pk__in=repeats[AlertStatus.FIRING]).update(
            repeat_count=F("repeat_count") + 1, last_seen_at=now
        )
    if repeats[AlertStatus.RESOLVED]:
        Alert.objects.filter(pk__in=repeats[AlertStatus.RESOLVED]).update(last_seen_at=now)
    if changed:
        Alert.objects.bulk_update(
            changed,
            [
                "status",
                "name",
                "summary",
                "labels",
                "annotations",
                "starts_at",
                "ends_at",
                "generator_url",
                "last_seen_at",
                "resolved_at",
                "repeat_count",
            ],
        )
    if incident is None:
        return []
    timeline_alerts(incident, integration, firing=newly_firing, resolved=newly_resolved)
    if newly_firing:
        fired_again(incident, integration)
    if newly_resolved and not incident.alerts.filter(status=AlertStatus.FIRING).exists():
        recover(incident, integration, _("All alerts resolved."))
    return [incident]


def _group_opener(integration: Integration, message: GroupIn, context: Context, now):
    """What a notification with firing alerts opens its incident with (``open_group``'s
    ``opener``); None when none fires."""
    firing = [a for a in message.alerts if a.status == AlertStatus.FIRING]
    if not firing:
        return None
    mappings = [
        mapping(integration, {**message.common_labels, **a.labels}, context.rules) for a in firing
    ]
    starts = [a.starts_at for a in firing if a.starts_at]
    return {
        "title": _alert_title(message, firing),
        "description": _alert_description(message, firing),
        "labels": message.common_labels,
        "detected_at": min([*starts, now]),
        **triage_inputs(integration, mappings),
    }


def open_new_groups(integration: Integration, messages: list[GroupIn], context: Context) -> dict:
    """``events.open_new_keys`` for Alertmanager: the notifications of group keys the
    integration has never seen (each with a firing alert, none acted on earlier in the batch)
    open their incidents together, with their groups and all their alerts, one INSERT each.
    Returns {group key: incident}."""
    now = timezone.now()
    fresh = new_keys(integration, messages, key=lambda m: m.key, context=context)
    if not fresh:
        return {}
    openers = [_group_opener(integration, message, context, now) for message in fresh]
    incidents = incident_services.open_incidents(
        [
            opening(
                integration,
                opener,
                now,
                notes=alert_notes(
                    firing=[a for a in message.alerts if a.status == AlertStatus.FIRING],
                    resolved=[a for a in message.alerts if a.status == AlertStatus.RESOLVED],
                ),
            )
            for message, opener in zip(fresh, openers, strict=True)
        ],
        actor=None,
        system_label=integration.name,
    )
    groups = new_groups(integration, [m.key for m in fresh], openers, incidents, now, context)
    for message, group in zip(fresh, groups, strict=True):
        # One INSERT per group, as ``apply_group``: all the batch's alerts in one JSON
        # parameter would raise the worker's peak memory by their size.
        _insert_alerts(
            [
                _new_alert(item, group=group, incident=group.incident, now=now)
                for item in message.alerts
            ]
        )
    return {m.key: incident for m, incident in zip(fresh, incidents, strict=True)}


def new_keys(integration: Integration, messages: list, *, key, context: Context) -> list:
    """Of ``messages`` (distinct keys), those whose key the integration has never seen, up to
    the room the storm rule leaves (``storms.room``); the others go the one-by-one way (a
    repeat, or a new episode linked to the last)."""
    if not messages:
        return []
    known = set(
        AlertGroup.objects.filter(
            integration=integration, key__in=[key(m) for m in messages]
        ).values_list("key", flat=True)
    )
    fresh = [m for m in messages if key(m) not in known]
    return fresh[: room(integration, context)] if fresh else []


def opening(
    integration: Integration, opener: dict, received_at, *, notes
) -> incident_services.Opening:
    """The incident an opener describes, opened by the integration (with its team) for alerts
    the portal received at ``received_at`` (``open_group``, the batch openers, a split)."""
    return incident_services.Opening(
        title=opener["title"],
        description=opener["description"],
        source=Source.MONITORING,
        service=opener["service"],
        impact_scope=opener.get("impact_scope"),
        business_impact=opener.get("business_impact"),
        urgency=opener.get("urgency"),
        priority=opener.get("priority"),
        detected_at=opener["detected_at"],
        # An alert firing long before it reached the portal keeps its start as the detection
        # time; its response clock and escalation count from its arrival (issue 14).
        received_at=received_at,
        team=integration.team,
        notes=tuple(notes),
    )


def new_groups(integration, keys, openers, incidents, now, context: Context) -> list[AlertGroup]:
    """The groups of incidents opened together, one INSERT; counted for the storm rule."""
    groups = AlertGroup.objects.bulk_create(
        AlertGroup(
            integration=integration,
            key=key,
            labels=opener["labels"],
            service=opener["service"],
            priority=incident.priority,
            incident=incident,
            opened_incident=True,
            opened_at=now,
        )
        for key, opener, incident in zip(keys, openers, incidents, strict=True)
    )
    opened(context, groups)
    return groups


def _new_alert(item: AlertIn, *, group: AlertGroup, incident: Incident | None, now) -> dict:
    """A new alert row as column values: a storm inserts thousands, and building model instances
    only to read them back was most of a delivery's Python time."""
    return {
        "group_id": group.pk,
        "incident_id": incident.pk if incident is not None else None,
        "fingerprint": item.fingerprint,
        "status": item.status,
        "name": item.name,
        "summary": item.summary,
        "labels": item.labels,
        "annotations": item.annotations,
        "starts_at": item.starts_at,
        "ends_at": item.ends_at,
        "generator_url": item.generator_url,
        "repeat_count": 0,
        "first_seen_at": now,
        "last_seen_at": now,
        "resolved_at": now if item.status == AlertStatus.RESOLVED else None,
    }


_PG_TYPES = {
    "CharField": "text",
    "TextField": "text",
    "JSONField": "jsonb",
    "DateTimeField": "timestamptz",
    "ForeignKey": "bigint",
    "PositiveIntegerField": "bigint",
    "IntegerField": "bigint",
    "BooleanField": "boolean",
}


def _insert_alerts(rows: list[dict]) -> None:
    """One INSERT for a delivery's new alerts (``_new_alert`` rows). On PostgreSQL the rows
    travel as one JSON parameter expanded by ``jsonb_to_recordset``: a fraction of
    bulk_create's per-row Python cost, which dominated alert storms."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Alert.objects.bulk_create(Alert(**row) for row in rows)
        return
    fields = [Alert._meta.get_field(name.removesuffix("_id")) for name in rows[0]]
    for row in rows:
        for name in ("starts_at", "ends_at", "first_seen_at", "last_seen_at", "resolved_at"):
            if row[name] is not None:
                row[name] = row[name].isoformat()
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    spec = ", ".join(f"{qn(f.column)} {_PG_TYPES[f.get_internal_type()]}" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(Alert._meta.db_table)} ({columns}) "  # noqa: S608 - names from _meta
            f"SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS r({spec})",
            [json.dumps(rows, ensure_ascii=False)],
        )


def _same_alert(row: Alert, item: AlertIn) -> bool:
    """A resend of the alert as stored: only its repeat count and last-seen time change."""
    return (
        row.status == item.status
        and row.name == item.name
        and row.summary == item.summary
        and row.labels == item.labels
        and row.annotations == item.annotations
        and row.starts_at == (item.starts_at or row.starts_at)
        and row.ends_at == item.ends_at
        and row.generator_url == item.generator_url
    )
