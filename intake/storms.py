"""Alert storms: more than ``storm_threshold`` new groups of an integration within
``storm_window_minutes`` (default 10 in 5) collapse into one announced storm incident whose
priority rises to the highest of its members'."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.choices import PRIORITY_ORDER, Source
from incidents.models import Incident
from itsm.core.audit import record_event

from .groups import Context, close_group, locked_open_group
from .models import AlertGroup, Integration


def storming(integration: Integration, group: AlertGroup, context: Context | None = None) -> bool:
    """The storm rule, asked once per new group until a batch knows the storm (never per alert):
    more than ``storm_threshold`` new groups of the integration within the storm window, counting
    ``group``. Every new group counts, also those that joined a storm incident, so storm mode
    lasts while the storm does.

    One query per batch (``context``): the opening times of the window's latest groups, at most
    the threshold's number (an index range scan). Fewer than that is all of them, and the batch
    (which holds the integration's lock: nobody else adds its groups meanwhile) keeps the list,
    adding its own new groups and dropping those the window leaves behind."""
    recent = _recent(integration, context, exclude=group)
    if context is not None:
        context.recent_groups = [*recent, group.opened_at]
    return len(recent) >= integration.storm_threshold


def room(integration: Integration, context: Context) -> int:
    """How many new groups may still open incidents of their own before the storm rule
    (``storming``) fires; 0 during a known storm. The batch adds the groups it opens with
    ``opened``."""
    if context.storm is not None:
        return 0
    context.recent_groups = _recent(integration, context)
    return max(0, integration.storm_threshold - len(context.recent_groups))


def opened(context: Context, groups: list[AlertGroup]) -> None:
    context.recent_groups = [*(context.recent_groups or []), *(g.opened_at for g in groups)]


def _recent(integration: Integration, context: Context | None, exclude=None) -> list:
    """The opening times of the integration's groups in the storm window, at most the
    threshold's number (the batch's list, or one query)."""
    since = timezone.now() - timedelta(minutes=integration.storm_window_minutes)
    recent = context.recent_groups if context is not None else None
    if recent is not None:
        return [at for at in recent if at >= since]
    rows = AlertGroup.objects.filter(integration=integration, is_storm=False, opened_at__gte=since)
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    return list(
        rows.order_by("-opened_at").values_list("opened_at", flat=True)[
            : integration.storm_threshold
        ]
    )


def join_storm(incident: Incident, group: AlertGroup, integration: Integration) -> None:
    """A group joined the storm incident: a higher mapped priority raises the incident's (the
    incidents service audits it and moves the response target); a lower one changes nothing.
    Compared in memory first, so a join costs no query unless the priority rises."""
    if not group.priority or not incident.priority:
        return
    if PRIORITY_ORDER.index(group.priority) >= PRIORITY_ORDER.index(incident.priority):
        return
    incident_services.raise_priority(
        incident,
        priority=group.priority,
        reason=_("alert group “%(group)s” (%(priority)s) joined the alert storm.")
        % {"group": group.name, "priority": group.priority},
        system_label=integration.name,
    )


def storm_incident(integration: Integration, group: AlertGroup) -> Incident:
    """The open storm incident of the integration, opened (and announced, once) if needed, with
    the priority of ``group``, the first to join it."""
    storm = locked_open_group(integration, "", storm=True)
    if storm is not None and storm.incident is not None and storm.incident.is_open:
        return storm.incident
    if storm is not None:
        close_group(storm)
    try:
        with transaction.atomic():
            storm = AlertGroup.objects.create(integration=integration, key="", is_storm=True)
    except IntegrityError:
        return locked_open_group(integration, "", storm=True, wait=True).incident
    text = _(
        "Alert storm: %(name)s sent more than %(n)d new alert groups within %(m)d minutes. "
        "While that lasts, further new alert groups join this incident instead of opening "
        "their own; its priority is the highest of theirs. Split a group out into its own "
        "incident from the list of alert groups."
    ) % {
        "name": integration.name,
        "n": integration.storm_threshold,
        "m": integration.storm_window_minutes,
    }
    incident = incident_services.open_incident(
        title=_("Alert storm: %(name)s") % {"name": integration.name},
        description=text,
        source=Source.MONITORING,
        service=group.service,
        priority=group.priority or integration.default_priority,
        actor=None,
        system_label=integration.name,
    )
    if integration.team_id:
        incident_services.update_incident(incident, actor=None, team=integration.team)
    incident_services.add_timeline_entry(
        incident,
        actor=None,
        system_label=integration.name,
        text=text,
        data={"storm": True, "integration": integration.pk},
    )
    record_event(
        integration,
        action="storm_started",
        actor_label=integration.name,
        data={"incident": incident.number},
    )
    storm.incident = incident
    storm.opened_incident = False
    AlertGroup.objects.filter(pk=storm.pk).update(incident=incident)
    return incident
