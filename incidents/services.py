"""Incident management use cases (seed §8.1–8.3). Every write to an incident goes through here.

- ``open_incident``: §8.3.1 検知・報告 — file a ticket (from a person, the API or monitoring);
  triaged at once when the triage inputs or a priority are known.
- ``triage_incident``: §8.3.2 トリアージ — choose scope/impact/urgency; priority and response
  target follow.
- ``override_priority``: an ops leader or above corrects the priority with a reason (audited).
- ``raise_priority``: an integration raises an open incident's priority (never lowers it).
- ``add_timeline_entry``: §8.3.3 コミュニケーションを密に — status updates and comments.
- ``assign_incident``, ``update_incident``: ownership and editable fields, audited.
- ``close_incident``: §8.2/§8.3.4 — closing a P1/P2 incident opens its mandatory postmortem, a
  P3/P4 one its light review (レビュー); "workaround only" closes on recovery and opens a fix
  follow-up (``incidents.fix``, with ``record_fix``).
- ``save_review`` / ``complete_review``: §8.2 レビュー — tick the review checklist, write the
  comment, complete it (the assignee or an ops leader or above).
- ``request_postmortem``: a postmortem/review for P3 (on request) or P4 (optional).
- ``attach_runbook``, ``set_checklist_item``: §8.3.3 復旧手順 as ticked checklists.
- postmortem editing: ``save_whys``, ``add_action_item``, ``set_action_item_done``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import audit_event, record_event
from itsm.core.business_calendar import current_calendar
from itsm.core.models import Sequence, Service, Team
from itsm.core.roles import ops_rank

from . import config_cache, escalation, holds
from .choices import (
    BusinessImpact,
    FixStatus,
    ImpactScope,
    IncidentState,
    PostmortemKind,
    Priority,
    Source,
    TimelineKind,
    Track,
    Urgency,
    check_choice,
)
from .models import (
    ActionItem,
    ChecklistItem,
    FiveWhy,
    Incident,
    IncidentPolicy,
    IncidentReview,
    IncidentRunbook,
    Postmortem,
    ReviewCheck,
    Runbook,
    TimelineEntry,
    may_complete_review,
    response_due_for,
)

# ---------------------------------------------------------------------------- triage


def _entry(incident, *, actor=None, actor_label="", kind, text="", data=None) -> TimelineEntry:
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return TimelineEntry(
        incident=incident,
        actor=actor,
        actor_label=actor_label[:150],
        kind=kind,
        text=text,
        data=data or {},
    )


def _timeline(incident, **fields) -> TimelineEntry:
    entry = _entry(incident, **fields)
    entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class Opening:
    """What one new incident is opened with (``open_incidents``; ``open_incident``'s
    arguments)."""

    title: str
    source: str
    description: str = ""
    service: Service | str | None = None
    impact_scope: str | None = None
    business_impact: str | None = None
    urgency: str | None = None
    priority: str | None = None
    detected_at: datetime | None = None
    received_at: datetime | None = None
    team: Team | None = None
    # Status updates written after the opening's own entries, by the opener: (text, data) each
    # (the intake's "1 alert(s) firing: …").
    notes: tuple[tuple[str, dict], ...] = ()


def open_incident(*, actor=None, system_label: str = "", **fields) -> Incident:
    """§8.3.1: create the ticket (``Opening``'s fields). With all three triage inputs (or an
    explicit priority, e.g. a monitoring rule ``severity=critical → P1``) it is triaged at once,
    so its response target starts counting from ``detected_at``.

    ``service`` is a Service, its slug, or None. ``actor=None`` means an integration acted
    (pass ``system_label``, e.g. "backups: RPO check").

    ``received_at`` (the intake passes it): when the portal received the alert. The detection
    time stays the alert's own start, but the response target and the escalation chain count
    from ``max(detected_at, received_at)``, and the timeline says so when they differ.
    """
    return open_incidents([Opening(**fields)], actor=actor, system_label=system_label)[0]


def open_incidents(
    openings: list[Opening], *, actor=None, system_label: str = ""
) -> list[Incident]:
    """Open incidents (``open_incident`` for each), written together (issue 20): one INSERT
    each for the incidents, their clocks, audit events, timeline entries, report steps, pages
    and notification rows, however many are opened — the intake opens a batch of new alerts so.

    A triaged opening is inserted triaged, with what its triage transition records (audit
    event, timeline entries, clock); every incident reports to L1 (and a P1/P2 to L2) as the
    escalation sweep would, in ``escalation.SweepBatch``. All or nothing: everything is
    validated before the first write.
    """
    if not openings:
        return []
    with config_cache.pinned():  # one look at the configuration's version
        return _open(openings, actor=actor, system_label=system_label)


def _open(openings: list[Opening], *, actor, system_label: str) -> list[Incident]:
    now = timezone.now()
    incidents = [_new_incident(opening, actor=actor) for opening in openings]
    clocks = [
        escalation.new_clock(incident, now=now) if incident.state == IncidentState.TRIAGED else None
        for incident in incidents
    ]
    for incident, clock in zip(incidents, clocks, strict=True):
        ahead = escalation.plan(incident, clock, set()) if clock is not None else []
        incident.escalation_level = 1
        incident.next_deadline_at = ahead[0].due_at if ahead else None
    first = Sequence.reserve(Incident.NUMBER_PREFIX, len(incidents))
    for n, incident in enumerate(incidents):
        incident.number = f"{Incident.NUMBER_PREFIX}-{first + n:06d}"
    # No savepoint of its own when nested (the caller's transaction, e.g. the intake processor's,
    # already isolates it); everything is validated above.
    with transaction.atomic(savepoint=False):
        Incident.objects.bulk_create(incidents)
        for incident, clock in zip(incidents, clocks, strict=True):
            incident._update_initial_state()  # saved as it is (its optimistic lock's state)
            # Nothing hangs off a new incident: its postmortem is known not to exist (the API's
            # answer shows it) without asking.
            Incident.postmortem.related.set_cached_value(incident, None)
            if clock is not None:
                clock.incident = incident  # inserted with the batch's rows
        batch = escalation.SweepBatch(
            incidents,
            now=now,
            new_clocks={c.incident_id: c for c in clocks if c is not None},
        )
        batch.read_targets(
            (escalation.report_row(incident, clock, level), level)
            for incident, clock in zip(incidents, clocks, strict=True)
            for level in _reported_levels(incident, clock)
        )
        for incident, opening in zip(incidents, openings, strict=True):
            _record_opening(incident, opening, actor=actor, system_label=system_label, batch=batch)
        batch.write([])
    return incidents


def _new_incident(opening: Opening, *, actor) -> Incident:
    """The incident ``opening`` describes, validated, not saved; triaged when it can be."""
    title = (opening.title or "").strip()
    if not title:
        raise ValidationError({"title": _("A title is required.")})
    check_choice("source", opening.source, Source)
    if opening.priority:
        check_choice("priority", opening.priority, Priority)
    for field in ("impact_scope", "business_impact", "urgency"):
        if getattr(opening, field):
            check_choice(field, getattr(opening, field), _TRIAGE_CHOICES[field])
    service = opening.service
    if isinstance(service, str):
        found = Service.objects.filter(slug=service).first()
        if found is None:
            raise ValidationError({"service": _("Unknown service “%(slug)s”.") % {"slug": service}})
        service = found
    detected_at, received_at = opening.detected_at, opening.received_at
    incident = Incident(
        title=title[:200],
        description=opening.description or "",
        source=opening.source,
        service=service,
        team=opening.team,
        impact_scope=opening.impact_scope or "",
        business_impact=opening.business_impact or "",
        urgency=opening.urgency or "",
        priority=opening.priority or "",
        priority_overridden=bool(opening.priority),
        reported_by=actor if getattr(actor, "is_authenticated", False) else None,
        detected_at=detected_at or timezone.now(),
        clock_started_at=(
            received_at if received_at and detected_at and received_at > detected_at else None
        ),
    )
    if opening.priority or (
        incident.impact_scope and incident.business_impact and incident.urgency
    ):
        if incident.priority_overridden and not (
            incident.impact_scope and incident.business_impact and incident.urgency
        ):
            # An intake rule gave the priority without the matrix inputs: triage on its say.
            incident.impact_scope = incident.impact_scope or _scope_hint(incident.priority)
            incident.business_impact = incident.business_impact or BusinessImpact.MINOR
            incident.urgency = incident.urgency or Urgency.IMMEDIATE
        workflow.check_permitted(incident, "triage", actor)
        Incident._meta.get_field("state").set_state(incident, IncidentState.TRIAGED)
        incident.set_triage_fields()
    return incident


_TRIAGE_CHOICES = {
    "impact_scope": ImpactScope,
    "business_impact": BusinessImpact,
    "urgency": Urgency,
}


def _record_opening(incident: Incident, opening: Opening, *, actor, system_label, batch) -> None:
    """What opening ``incident`` records, in order, handed to ``batch``: the "open" audit event
    and the filed entry; for a triaged one the triage transition's audit event and entries (the
    L2 report of a P1/P2 first, as the triage's clock does); the L1 report; the team; the
    opener's notes."""
    batch.events.append(
        audit_event(
            incident,
            action="open",
            actor=actor,
            actor_label=system_label,
            to_state=IncidentState.DETECTED,
            data={"source": opening.source, "priority": opening.priority or ""},
        )
    )
    filed = {"actor": actor, "actor_label": system_label, "kind": TimelineKind.STATUS_UPDATE}
    batch.timeline.append(
        _entry(
            incident,
            **filed,
            text=_("Incident filed (%(source)s).") % {"source": Source(opening.source).label},
        )
    )
    if incident.clock_started_at:
        batch.timeline.append(
            _entry(
                incident,
                **filed,
                text=_(
                    "The alert started %(started)s; the response clock started when the "
                    "portal received it at %(received)s."
                )
                % {
                    "started": _local(incident.detected_at),
                    "received": _local(incident.clock_started_at),
                },
                data={
                    "detected_at": incident.detected_at.isoformat(),
                    "clock_started_at": incident.clock_started_at.isoformat(),
                },
            )
        )
    clock = batch.clocks.get(incident.pk)
    if incident.state == IncidentState.TRIAGED:
        if 2 in _reported_levels(incident, clock):
            escalation.report(incident, clock, level=2, now=batch.now, batch=batch)
        label = system_label or "intake"
        batch.events.append(
            audit_event(
                incident,
                action="triage",
                actor=actor,
                actor_label=label,
                from_state=IncidentState.DETECTED,
                to_state=IncidentState.TRIAGED,
            )
        )
        triaged = {"actor": actor, "actor_label": label}
        batch.timeline += [
            _entry(
                incident,
                **triaged,
                kind=TimelineKind.TRANSITION,
                data={"transition": "triage", "from": IncidentState.DETECTED, "to": incident.state},
            ),
            _priority_entry(incident, **triaged),
        ]
    escalation.report(incident, clock, level=1, now=batch.now, batch=batch)
    if incident.team_id:
        batch.events.append(
            audit_event(
                incident, action="update", actor=actor, data={"team": ["", str(incident.team)]}
            )
        )
        batch.timeline.append(_assignment_entry(incident, actor=actor))
    batch.timeline += [
        _entry(
            incident,
            actor=actor,
            actor_label=system_label,
            kind=TimelineKind.STATUS_UPDATE,
            text=text,
            data=data,
        )
        for text, data in opening.notes
    ]


def _reported_levels(incident: Incident, clock) -> tuple[int, ...]:
    """The levels a new incident reports to: L1 (§8.3.1 報告フロー), and first L2 for a P1/P2
    (報告フロー 3 優先度に応じてエスカレーション)."""
    return (2, 1) if clock is not None and incident.track == Track.URGENT else (1,)


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _priority_entry(incident: Incident, *, actor, actor_label) -> TimelineEntry:
    return _entry(
        incident,
        actor=actor,
        actor_label=actor_label,
        kind=TimelineKind.PRIORITY_CHANGE,
        text=_("Priority set to %(priority)s; response due %(due)s.")
        % {"priority": incident.priority, "due": _local(incident.response_due_at)},
        data={
            "priority": incident.priority,
            "response_due_at": incident.response_due_at.isoformat(),
        },
    )


def _triage(incident, *, actor, comment=""):
    def after(inc):
        _priority_entry(inc, actor=actor, actor_label="").save(force_insert=True)

    return transition(
        incident,
        "triage",
        actor=actor,
        comment=comment,
        data={
            "impact_scope": incident.impact_scope,
            "business_impact": incident.business_impact,
            "urgency": incident.urgency,
        },
        after=after,
    )


def _scope_hint(priority: str) -> str:
    return {
        "P1": ImpactScope.ALL_USERS,
        "P2": ImpactScope.SOME_USERS,
        "P3": ImpactScope.SOME_USERS,
    }.get(priority, ImpactScope.SINGLE_FEATURE)


def triage_incident(
    incident: Incident,
    *,
    actor,
    impact_scope: str,
    business_impact: str,
    urgency: str,
    comment: str = "",
    team: Team | None = None,
    assignee=None,
) -> Incident:
    """§8.3.2 トリアージ: record scope/impact/urgency; priority and response_due_at follow."""
    if incident.state != IncidentState.DETECTED:
        raise workflow.TransitionNotAllowed(
            _("Only a detected incident can be triaged."), transition="triage"
        )
    check_choice("impact_scope", impact_scope, ImpactScope)
    check_choice("business_impact", business_impact, BusinessImpact)
    check_choice("urgency", urgency, Urgency)
    incident.impact_scope = impact_scope
    incident.business_impact = business_impact
    incident.urgency = urgency
    if team is not None:
        incident.team = team
    if assignee is not None:
        incident.assignee = assignee
    return _triage(incident, actor=actor, comment=comment)


def _triage_from_panel(incident, *, actor, comment, data):
    return triage_incident(
        incident,
        actor=actor,
        impact_scope=data.get("impact_scope", ""),
        business_impact=data.get("business_impact", ""),
        urgency=data.get("urgency", ""),
        comment=comment,
    )


def override_priority(incident: Incident, *, actor, priority: str, reason: str) -> Incident:
    """An ops leader or above sets the priority by hand (reason required, audited); the
    response target is recomputed from detection with the new priority's target."""
    if ops_rank(actor) < 2:
        raise workflow.TransitionForbidden(
            _("Only an ops leader or above may override the priority.")
        )
    if not incident.is_open:
        raise workflow.TransitionNotAllowed(_("A closed incident's priority cannot change."))
    check_choice("priority", priority, Priority)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("A reason is required.")})
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        old = locked.priority
        _apply_priority(
            incident,
            locked,
            priority,
            overridden=True,
            action="override_priority",
            who={"actor": actor},
            comment=reason,
            text=_("Priority changed %(old)s → %(new)s: %(reason)s")
            % {"old": old or "—", "new": priority, "reason": reason},
        )
    return incident


def _apply_priority(
    incident: Incident,
    locked: Incident,
    priority: str,
    *,
    overridden: bool,
    action: str,
    who: dict,
    comment: str,
    text: str,
) -> None:
    """Set a new priority on the locked row: the response target recomputed from when the clock
    started, audited, on the timeline, and the escalation moved to the new priority's clock."""
    old = locked.priority
    fields = {
        "priority": priority,
        "priority_overridden": overridden,
        "response_due_at": response_due_for(priority, locked.clock_from),
    }
    Incident.objects.filter(pk=incident.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(incident, name, value)
    holds.refresh_resolution_due(incident)  # the new priority's resolution target
    change = {"from": old, "to": priority}
    record_event(incident, action=action, comment=comment, data=change, **who)
    _timeline(incident, kind=TimelineKind.PRIORITY_CHANGE, text=text, data=change, **who)
    escalation.priority_changed(incident)


def raise_priority(incident: Incident, *, priority: str, reason: str, system_label: str) -> bool:
    """An integration raises an open incident's priority, e.g. when a P1 alert group joins an
    alert storm incident: only upwards (a lower or equal priority changes nothing), audited and
    on the timeline, the response target recomputed from detection as for an override. True when
    it rose. An untriaged incident (no priority yet) is left to triage."""
    check_choice("priority", priority, Priority)
    order = list(Priority.values)
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        old = locked.priority
        if not locked.is_open or not old or order.index(priority) >= order.index(old):
            return False
        _apply_priority(
            incident,
            locked,
            priority,
            overridden=locked.priority_overridden,
            action="raise_priority",
            who={"actor_label": system_label},
            comment=reason,
            text=_("Priority raised %(old)s → %(new)s: %(reason)s")
            % {"old": old, "new": priority, "reason": reason},
        )
    return True


# ---------------------------------------------------------------------------- timeline & edits


def add_timeline_entry(
    incident: Incident,
    *,
    actor,
    text: str,
    kind: str = TimelineKind.STATUS_UPDATE,
    data: dict | None = None,
    system_label: str = "",
) -> TimelineEntry:
    """§8.3.3 コミュニケーションを密に: a status update or comment on the incident's timeline."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write something.")})
    check_choice("kind", kind, TimelineKind)
    return _timeline(
        incident, actor=actor, actor_label=system_label, kind=kind, text=text, data=data
    )


EDITABLE_FIELDS = ("title", "description", "service", "assignee", "team")


def update_incident(incident: Incident, *, actor, **changes) -> Incident:
    """Edit the free fields of an incident (never its state or priority); each change audited."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({f: _("This field cannot be edited here.") for f in unknown})
    diff = {}
    for field, value in changes.items():
        old = getattr(incident, field)
        if old != value:
            diff[field] = [str(old or ""), str(value or "")]
            setattr(incident, field, value)
    if not diff:
        return incident
    with transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(
            **{f: getattr(incident, f) for f in diff}, updated_at=timezone.now()
        )
        record_event(incident, action="update", actor=actor, data=diff)
        if "assignee" in diff or "team" in diff:
            _assignment_entry(incident, actor=actor).save(force_insert=True)
    return incident


def _assignment_entry(incident: Incident, *, actor) -> TimelineEntry:
    return _entry(
        incident,
        actor=actor,
        kind=TimelineKind.ASSIGNMENT,
        text=_("Assigned to %(who)s")
        % {"who": ", ".join(str(x) for x in (incident.assignee, incident.team) if x)},
    )


def assign_incident(incident: Incident, *, actor, assignee=None, team=None) -> Incident:
    return update_incident(incident, actor=actor, assignee=assignee, team=team)


def transition(
    incident: Incident,
    name: str,
    *,
    actor,
    comment: str = "",
    data: dict | None = None,
    system_label: str = "",
    after=None,
) -> Incident:
    """Apply an incident transition for a person, an API client or the system (``actor=None``
    with the ``system_label`` of the integration or clock acting) — the one way an incident
    changes state, with what a state change causes, in the transition's transaction:

    - the escalation clock follows (``escalation.follow_transition``: started on triage, stopped
      on recovery and close, resumed when a fix fails, restarted on reopen) and the incident's
      ``next_deadline_at`` with it, set before the incident is saved;
    - the state change lands on the incident's timeline (labels at display time);
    - a running hold ends: the resolution clock resumes (``holds.end_hold_on_transition``);
    - then ``after(incident)``: what the use case adds (the postmortem of a close …).

    The audit event is written for every transition by ``itsm.core.signals``.
    """
    source = incident.state

    def record(inc: Incident) -> None:
        _timeline(
            inc,
            actor=actor,
            actor_label=system_label,
            kind=TimelineKind.TRANSITION,
            text=comment or "",
            data={"transition": name, "from": source, "to": inc.state},
        )
        holds.end_hold_on_transition(inc, actor=actor, system_label=system_label, name=name)
        if after is not None:
            after(inc)

    return workflow.apply_transition(
        incident,
        name,
        actor=actor,
        comment=comment,
        data=data,
        system_label=system_label,
        before_save=lambda inc: escalation.follow_transition(inc, name),
        after=record,
    )


def _transition_service(name: str):
    """``workflow.perform``'s service for a transition that is only the transition (and what
    every transition causes: ``transition``)."""

    def service(incident: Incident, *, actor, comment: str, data: dict) -> Incident:
        return transition(incident, name, actor=actor, comment=comment, data=data)

    service.__name__ = f"transition_{name}"
    return service


# ---------------------------------------------------------------------------- close & postmortem


def close_incident(
    incident: Incident,
    *,
    actor,
    resolution_summary: str = "",
    comment: str = "",
    fix_status: str = "",
) -> Incident:
    """Close a verified incident (§8.2). P1/P2: the mandatory postmortem is created with it;
    P3/P4: the light review (§8.2 クローズ → レビュー).

    §8.2 復旧作業 vs 修正作業: ``fix_status`` says whether the root cause is fixed (``fixed``,
    or not stated: ``fixed_at`` = the close, unless a fix was recorded earlier) or service was
    restored by a workaround (``workaround``: closed on recovery, no ``fixed_at``, and a fix
    follow-up is opened; ``incidents.fix``)."""
    from . import fix

    def after(inc):
        if inc.track == Track.URGENT:
            _create_postmortem(inc, actor=actor, kind=PostmortemKind.POSTMORTEM, mandatory=True)
        elif inc.track == Track.NORMAL:
            _create_review(inc, actor=actor)
        if inc.fix_status == FixStatus.WORKAROUND:
            fix.open_follow_up(inc, actor=actor)

    data = {"resolution_summary": resolution_summary or incident.resolution_summary}
    if fix_status:
        data["fix_status"] = fix_status
    return transition(incident, "close", actor=actor, comment=comment, data=data, after=after)


def _close_from_panel(incident, *, actor, comment, data):
    return close_incident(
        incident,
        actor=actor,
        resolution_summary=data.get("resolution_summary", ""),
        comment=comment,
        fix_status=data.get("fix_status", ""),
    )


def _prefilled_impact(incident: Incident) -> str:
    lines = [
        _("Impact scope: %(v)s") % {"v": incident.get_impact_scope_display() or "—"},
        _("Business impact: %(v)s") % {"v": incident.get_business_impact_display() or "—"},
        _("Detected: %(v)s") % {"v": _fmt(incident.detected_at)},
        _("Response started: %(v)s") % {"v": _fmt(incident.response_started_at)},
        _("Recovered: %(v)s") % {"v": _fmt(incident.recovered_at)},
    ]
    if incident.time_to_recover is not None:
        minutes = int(incident.time_to_recover.total_seconds() // 60)
        lines.append(_("Duration until recovery: %(m)d minutes") % {"m": minutes})
    mitigations = incident.timeline.filter(kind=TimelineKind.MITIGATION)
    if mitigations:
        lines.append(_("Impact reduction (apart from the fix):"))
        lines += [f"- {_fmt(m.at)} {m.who}: {m.text}" for m in mitigations]
    return "\n".join(lines)


def _fmt(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _create_postmortem(incident: Incident, *, actor, kind: str, mandatory: bool) -> Postmortem:
    existing = Postmortem.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    days = IncidentPolicy.current().postmortem_due_business_days
    start = incident.closed_at or timezone.now()
    owner = incident.assignee or (actor if getattr(actor, "is_authenticated", False) else None)
    postmortem = Postmortem.objects.create(
        incident=incident,
        kind=kind,
        mandatory=mandatory,
        owner=owner,
        due_at=current_calendar().add_business_days(start, days),
        summary=f"{incident.title}\n\n{incident.resolution_summary}".strip(),
        impact=_prefilled_impact(incident),
    )
    record_event(postmortem, action="create", actor=actor, data={"incident": incident.number})
    _timeline(
        incident,
        actor=actor,
        kind=TimelineKind.LINK,
        text=_("%(kind)s %(number)s opened.")
        % {"kind": postmortem.get_kind_display(), "number": postmortem.number},
        data={"postmortem": postmortem.number},
    )
    return postmortem


def request_postmortem(incident: Incident, *, actor, kind: str | None = None) -> Postmortem:
    """§8.3.4: P3 on request, P4 optional. P3/P4 default to the lighter review."""
    if ops_rank(actor) < 1 and not getattr(actor, "is_superuser", False):
        raise workflow.TransitionForbidden(_("You may not request a postmortem."))
    if kind is None:
        kind = (
            PostmortemKind.POSTMORTEM if incident.track == Track.URGENT else PostmortemKind.REVIEW
        )
    check_choice("kind", kind, PostmortemKind)
    if hasattr(incident, "postmortem"):
        raise workflow.TransitionNotAllowed(_("This incident already has a postmortem."))
    with transaction.atomic():
        return _create_postmortem(
            incident, actor=actor, kind=kind, mandatory=incident.track == Track.URGENT
        )


# ---------------------------------------------------------------------------- review (P3/P4)


def _create_review(incident: Incident, *, actor) -> IncidentReview:
    """§8.2 レビュー: the checklist is copied from the configured ``ReviewCheck`` rows, so a
    later edit of the checklist does not change reviews already opened. A reopened and
    re-closed incident keeps its one review."""
    existing = IncidentReview.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    days = IncidentPolicy.current().postmortem_due_business_days
    start = incident.closed_at or timezone.now()
    review = IncidentReview.objects.create(
        incident=incident,
        owner=incident.assignee or (actor if getattr(actor, "is_authenticated", False) else None),
        due_at=current_calendar().add_business_days(start, days),
    )
    review.items.bulk_create(
        [
            review.items.model(review=review, order=i, text=check.text)
            for i, check in enumerate(ReviewCheck.objects.filter(is_active=True), start=1)
        ]
    )
    record_event(review, action="create", actor=actor, data={"incident": incident.number})
    _timeline(
        incident,
        actor=actor,
        kind=TimelineKind.LINK,
        text=_("Review opened."),
        data={"review": review.pk},
    )
    return review


def _check_may_review(review: IncidentReview, actor) -> None:
    if not may_complete_review(review, actor):
        raise workflow.TransitionForbidden(
            _("Only the incident's assignee or an ops leader (or above) may review it."),
            transition="complete",
        )
    if review.state != IncidentReview.State.PENDING:
        raise workflow.TransitionNotAllowed(
            _("This review is already complete."), transition="complete"
        )


def save_review(
    review: IncidentReview, *, actor, checked: list[int] | set[int], comment: str
) -> IncidentReview:
    """§8.2 レビュー: save the ticks (item ids in ``checked``) and the comment of a pending
    review without completing it."""
    _check_may_review(review, actor)
    checked = {int(pk) for pk in checked}
    with transaction.atomic():
        locked = IncidentReview.objects.select_for_update().get(pk=review.pk)
        _check_may_review(locked, actor)
        for item in locked.items.all():
            if item.checked != (item.pk in checked):
                item.checked = item.pk in checked
                item.save(update_fields=["checked"])
        comment = (comment or "").strip()
        if comment != locked.comment:
            IncidentReview.objects.filter(pk=locked.pk).update(comment=comment)
        review.comment = comment
        record_event(
            review,
            action="update",
            actor=actor,
            data={"checked": sorted(checked), "items": locked.items.count()},
        )
    return review


def complete_review(
    review: IncidentReview, *, actor, checked: list[int] | set[int], comment: str
) -> IncidentReview:
    """§8.2 レビュー: save the ticks and comment, then complete the review; every item must be
    ticked and the comment written (guards ``all_checks_ticked``, ``has_review_comment``).
    A refused completion keeps what was saved."""
    save_review(review, actor=actor, checked=checked, comment=comment)
    review.refresh_from_db()

    def after(r: IncidentReview) -> None:
        _timeline(
            r.incident,
            actor=actor,
            kind=TimelineKind.LINK,
            text=_("Review completed: %(comment)s") % {"comment": r.comment},
            data={"review": r.pk},
        )

    return workflow.apply_transition(
        review, "complete", actor=actor, comment=review.comment, after=after
    )


def _complete_review_from_panel(review, *, actor, comment, data):
    """The generic transition endpoint: ticks sent as ``checked`` (kept as saved when absent)."""
    if "checked" in data:
        checked = data.getlist("checked") if hasattr(data, "getlist") else data["checked"]
        checked = [v for v in checked if str(v).isdigit()]
    else:
        checked = list(review.items.filter(checked=True).values_list("pk", flat=True))
    return complete_review(
        review, actor=actor, checked=checked, comment=comment or data.get("comment", "")
    )


def update_postmortem(postmortem: Postmortem, *, actor, **fields) -> Postmortem:
    allowed = {"summary", "impact", "root_cause", "prevention_measures", "owner", "due_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: _("This field cannot be edited here.") for f in unknown})
    if postmortem.state == Postmortem.State.PUBLISHED:
        raise workflow.TransitionNotAllowed(_("A published postmortem is read-only."))
    for name, value in fields.items():
        setattr(postmortem, name, value)
    with transaction.atomic():
        Postmortem.objects.filter(pk=postmortem.pk).update(**fields)
        record_event(postmortem, action="update", actor=actor, data={"fields": sorted(fields)})
    return postmortem


def save_whys(postmortem: Postmortem, *, actor, rows: list[dict]) -> list[FiveWhy]:
    """Replace the なぜなぜ chain with ``rows`` (``[{"why": …, "because": …}, …]`` in order)."""
    if postmortem.state == Postmortem.State.PUBLISHED:
        raise workflow.TransitionNotAllowed(_("A published postmortem is read-only."))
    clean = []
    for index, row in enumerate(rows):
        why = (row.get("why") or "").strip()
        because = (row.get("because") or "").strip()
        if not why and not because:
            continue
        if not why:
            raise ValidationError({"whys": _("Row %(n)d: the “why” is empty.") % {"n": index + 1}})
        clean.append(FiveWhy(postmortem=postmortem, order=len(clean) + 1, why=why, because=because))
    with transaction.atomic():
        postmortem.whys.all().delete()
        created = FiveWhy.objects.bulk_create(clean)
        record_event(postmortem, action="update_whys", actor=actor, data={"rows": len(created)})
    return created


def add_action_item(
    postmortem: Postmortem, *, actor, title: str, owner=None, due_date=None
) -> ActionItem:
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("A title is required.")})
    with transaction.atomic():
        item = ActionItem.objects.create(
            postmortem=postmortem, title=title[:200], owner=owner, due_date=due_date
        )
        record_event(postmortem, action="add_action_item", actor=actor, data={"title": title})
    return item


def set_action_item_done(item: ActionItem, *, actor, done: bool) -> ActionItem:
    item.done = done
    item.done_at = timezone.now() if done else None
    with transaction.atomic():
        ActionItem.objects.filter(pk=item.pk).update(done=item.done, done_at=item.done_at)
        record_event(
            item.postmortem,
            action="action_item_done" if done else "action_item_reopened",
            actor=actor,
            data={"title": item.title},
        )
    return item


def update_action_item(item: ActionItem, *, actor, **fields) -> ActionItem:
    """Edit an action item (title, owner, due date) and/or mark it done or open again; audited
    on its postmortem."""
    done = fields.pop("done", None)
    unknown = sorted(set(fields) - {"title", "owner", "due_date"})
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in unknown})
    if "title" in fields:
        fields["title"] = (fields["title"] or "").strip()[:200]
        if not fields["title"]:
            raise ValidationError({"title": _("A title is required.")})
    with transaction.atomic():
        if done is not None and done != item.done:
            set_action_item_done(item, actor=actor, done=done)
        if fields:
            for name, value in fields.items():
                setattr(item, name, value)
            item.save(update_fields=list(fields))
            record_event(
                item.postmortem,
                action="update_action_item",
                actor=actor,
                data={"title": item.title, "fields": sorted(fields)},
            )
    return item


# ---------------------------------------------------------------------------- runbooks


def attach_runbook(incident: Incident, *, actor, runbook: Runbook) -> IncidentRunbook:
    """§8.3.3 復旧手順: copy the runbook's steps onto the incident as a checklist."""
    if not runbook.is_active:
        raise ValidationError({"runbook": _("This runbook is not active.")})
    with transaction.atomic():
        attached, created = IncidentRunbook.objects.get_or_create(
            incident=incident, runbook=runbook, defaults={"attached_by": _user(actor)}
        )
        if created:
            ChecklistItem.objects.bulk_create(
                ChecklistItem(
                    incident_runbook=attached,
                    order=step.order,
                    title=step.title,
                    instructions=step.instructions,
                )
                for step in runbook.steps.all()
            )
            _timeline(
                incident,
                actor=actor,
                kind=TimelineKind.RUNBOOK,
                text=_("Runbook attached: %(name)s") % {"name": runbook.name},
            )
    return attached


def set_checklist_item(item: ChecklistItem, *, actor, done: bool) -> ChecklistItem:
    """Tick (or untick) one runbook step; who and when are recorded."""
    item.done_at = timezone.now() if done else None
    item.done_by = _user(actor) if done else None
    with transaction.atomic():
        ChecklistItem.objects.filter(pk=item.pk).update(done_at=item.done_at, done_by=item.done_by)
        _timeline(
            item.incident_runbook.incident,
            actor=actor,
            kind=TimelineKind.RUNBOOK,
            text=(_("Step done: %(step)s") if done else _("Step reopened: %(step)s"))
            % {"step": item.title},
        )
    return item


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


# How each transition is applied when asked for by name (``itsm.core.workflow.perform``): every
# incident transition goes through ``transition`` (clock and timeline), triage and close with
# their use cases; postmortem moves are plain.
TRANSITIONS = {
    Incident: {
        "triage": _triage_from_panel,
        "close": _close_from_panel,
        **{
            name: _transition_service(name)
            for name in (
                "start_response",
                "start_recovery",
                "verify",
                "reject_fix",
                "reopen",
                "auto_recover",
                "alerts_refire",
                # Nobody may take these (through_links_only): incidents.merging does, as the
                # system, for the person it checked.
                "close_as_duplicate",
                "resolve_with_parent",
            )
        },
    },
    Postmortem: {
        "submit_for_review": workflow.PLAIN,
        "send_back": workflow.PLAIN,
        "publish": workflow.PLAIN,
    },
    IncidentReview: {"complete": _complete_review_from_panel},
}
