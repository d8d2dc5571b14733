"""The update cadence (issue 17 §1): when an incident's next stakeholder update is due.

An open incident whose priority has a cadence (defaults: P1 every 30 min, P2 every 60) owes its
stakeholders an update every N minutes, counted from the latest of: its last stakeholder update,
its triage, its last priority change and its last reopening. Nothing is owed once an update said
*resolved* (until the incident is reopened) or the incident is closed.

The sweep (``comms.tasks.sweep_updates``, every ``SWEEP_INTERVAL_SECONDS``) reminds the
commander (or, without one, the communications lead, else the assignee) ``REMIND_BEFORE_MINUTES``
before an update is due, once per due instant, and escalates the incident one level with the
reason *stakeholder update overdue* (§8.4 business impact) when the update is later than the
priority's grace, once per due instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import escalation
from incidents.choices import IncidentState, TimelineKind
from incidents.models import EscalationReason, Incident, TimelineEntry
from itsm.core.notifications import notify

from .choices import UpdateStatus
from .defaults import REMIND_BEFORE_MINUTES
from .models import IncidentComms, PriorityComms

# Timeline entries that restart the cadence: it is counted from the newest of these.
RESTARTS = Q(kind=TimelineKind.PRIORITY_CHANGE) | Q(
    kind=TimelineKind.TRANSITION, data__transition__in=["triage", "reopen"]
)


@dataclass(frozen=True)
class UpdateDue:
    due_at: datetime
    overdue_at: datetime
    every_minutes: int

    def overdue(self, now: datetime) -> bool:
        return now >= self.due_at

    def escalates(self, now: datetime) -> bool:
        return now >= self.overdue_at


def with_restart(incidents):
    """Annotate ``restarted_at``: the newest timeline entry that restarts the cadence."""
    newest = (
        TimelineEntry.objects.filter(RESTARTS, incident=OuterRef("pk"))
        .values("incident")
        .annotate(at=Max("at"))
        .values("at")
    )
    return incidents.annotate(restarted_at=Subquery(newest))


def update_due(incident: Incident, comms: IncidentComms | None, rules=None) -> UpdateDue | None:
    """When ``incident``'s next update is due (None: nothing is owed). Reads ``restarted_at``
    when the incident was loaded ``with_restart``, else asks the timeline."""
    if incident.state == IncidentState.CLOSED or not incident.priority:
        return None
    rules = rules if rules is not None else PriorityComms.table()
    rule = rules.get(incident.priority)
    if rule is None or not rule.update_every_minutes:
        return None
    if comms is not None and comms.last_update_status == UpdateStatus.RESOLVED:
        restarted = _restarted_at(incident)
        if restarted is None or restarted <= comms.last_update_at:
            return None
    anchors = [
        incident.triaged_at or incident.detected_at,
        _restarted_at(incident),
        comms.last_update_at if comms is not None else None,
    ]
    anchor = max(a for a in anchors if a is not None)
    due = anchor + timedelta(minutes=rule.update_every_minutes)
    return UpdateDue(
        due, due + timedelta(minutes=rule.overdue_after_minutes), rule.update_every_minutes
    )


def _restarted_at(incident: Incident) -> datetime | None:
    if not hasattr(incident, "restarted_at"):
        incident.restarted_at = TimelineEntry.objects.filter(RESTARTS, incident=incident).aggregate(
            at=Max("at")
        )["at"]
    return incident.restarted_at


def _comms(incident: Incident) -> IncidentComms | None:
    try:
        return incident.comms
    except IncidentComms.DoesNotExist:
        return None


def owed(rules) -> list[Incident]:
    """The open incidents whose priority has a cadence (few, even among millions: the partial
    index ``incident_open_priority``), with their comms and restart instant."""
    cadenced = [p for p, rule in rules.items() if rule.update_every_minutes]
    incidents = (
        Incident.objects.open()
        .filter(priority__in=cadenced)
        .exclude(state=IncidentState.DETECTED)
        .select_related("comms", "comms__commander", "comms__comms_lead", "assignee")
    )
    return list(with_restart(incidents))


def sweep_updates(*, now=None) -> dict[str, int]:
    """Remind and escalate what is due at ``now``; how many of each (the beat task's service)."""
    now = now or timezone.now()
    rules = PriorityComms.table()
    reminded = escalated = 0
    for incident in owed(rules):
        comms = _comms(incident)
        due = update_due(incident, comms, rules)
        if due is None:
            continue
        if now >= due.due_at - timedelta(minutes=REMIND_BEFORE_MINUTES):
            reminded += remind(incident, due, now=now)
        if due.escalates(now):
            escalated += escalate_overdue(incident, due, now=now)
    return {"reminded": reminded, "escalated": escalated}


def who_writes(incident: Incident, comms: IncidentComms | None) -> list:
    """Who is reminded: the commander, else the communications lead, else the assignee."""
    for person in (
        comms.commander if comms else None,
        comms.comms_lead if comms else None,
        incident.assignee,
    ):
        if person is not None and person.is_active:
            return [person]
    return []


def _claim(incident: Incident, field: str, due: UpdateDue) -> bool:
    """Mark ``due`` as acted on for ``field`` (reminded_for / overdue_for); False when someone
    did already (a racing sweep)."""
    with transaction.atomic():
        comms, _created = IncidentComms.objects.select_for_update().get_or_create(incident=incident)
        if getattr(comms, field) == due.due_at:
            return False
        setattr(comms, field, due.due_at)
        comms.save(update_fields=[field])
    return True


def remind(incident: Incident, due: UpdateDue, *, now) -> int:
    if not _claim(incident, "reminded_for", due):
        return 0
    people = who_writes(incident, _comms(incident))
    notify(
        people,
        key=f"{incident.number}:update-due:{due.due_at:%Y%m%dT%H%M%S}",
        message="comms.update_due",
        params={
            "number": incident.number,
            "title": incident.title,
            "due_at": due.due_at.isoformat(),
            "every": due.every_minutes,
        },
        url=incident.get_absolute_url() + "#comms",
        thread=incident.number,
    )
    return 1


def escalate_overdue(incident: Incident, due: UpdateDue, *, now) -> int:
    """§8.4 business impact: stakeholders were not told on time. One level up (when there is a
    level above) and the writers told; once per due instant."""
    if not _claim(incident, "overdue_for", due):
        return 0
    minutes = int((now - due.due_at).total_seconds() // 60)
    step = escalation.escalate_for(
        incident,
        reason=EscalationReason.UPDATE_OVERDUE,
        comment=_(
            "No stakeholder update for %(late)s minutes past its due time (%(every)s-minute cadence)."
        )
        % {"late": minutes, "every": due.every_minutes},
        now=now,
    )
    notify(
        who_writes(incident, _comms(incident)),
        key=f"{incident.number}:update-overdue:{due.due_at:%Y%m%dT%H%M%S}",
        message="comms.update_overdue",
        params={
            "number": incident.number,
            "title": incident.title,
            "due_at": due.due_at.isoformat(),
            "level": step.level if step else None,
        },
        url=incident.get_absolute_url() + "#comms",
        thread=incident.number,
    )
    return 1
