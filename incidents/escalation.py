"""Escalation and SLA timers (seed §8.3.1 報告フロー, §8.4 エスカレーション).

Use cases:
- ``report``: §8.3.1 — a new incident notifies the ops team (L1) (``services.open_incidents``,
  in its batch).
- ``new_clock`` / ``start_clock`` (on triage): the policy of the incident's track is copied onto
  it; P1/P2 also notify L2 at once (優先度に応じてエスカレーション).
- ``sweep_deadlines``: the beat task's service. Incidents whose ``next_deadline_at`` has passed
  are locked in batches (``select_for_update(skip_locked=True)``) and their due steps applied:
  response warnings (50 %/75 % by default), the response breach (timestamp, notify, one level
  up), automatic levels (not recovered in time) and the notify-only L5 branch.
- ``escalate_incident``: manual escalation with one of the seed's reasons and a comment; one
  level up, or a chosen level for ops managers and above.
- ``priority_changed``: a priority override moves the incident onto its new track's policy.
- ``follow_transition`` (called by ``incidents.services.transition``): recovery and close stop
  the clock, a failed verification resumes it, a reopen restarts it (a new cycle).

Every step is an ``EscalationStep`` row unique per (incident, key) and is written in the same
transaction as the level change and its notification rows, so a step applies once however many
sweeps race or however often a worker dies; deliveries happen after commit (DESIGN.md §1–2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import audit_event, record_event
from itsm.core.bulk import insert_rows, update_each
from itsm.core.notifications import Notice, cancel_pending, notify, notify_many
from itsm.core.roles import ops_rank

from . import config_cache, paging
from .choices import (
    BusinessImpact,
    Clock,
    IncidentState,
    Priority,
    TimelineKind,
    Track,
    check_choice,
)
from .models import (
    MANUAL_REASONS,
    EscalationPolicy,
    EscalationReason,
    EscalationStep,
    Incident,
    IncidentEscalation,
    Page,
    StepKind,
    TimelineEntry,
    level_label,
)
from .snapshot import LevelSnapshot, PolicySnapshot

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 100  # two workers share a 1,000-deadline burst in ten batches
MAX_STEPS_PER_INCIDENT = 20


# ---------------------------------------------------------------------------- policy


def policy_for(incident: Incident) -> EscalationPolicy | None:
    """The active policy of the incident's track: the service's own one first, else the track's
    default. Untriaged incidents (no track yet) use the normal track's. Read from the cached
    configuration (``incidents.config_cache``): the rows, levels prefetched, shared read-only."""
    track = incident.track or Track.NORMAL
    policies = [p for p in config_cache.current().policies if p.track == track]
    if incident.service_id:
        own = next((p for p in policies if p.service_id == incident.service_id), None)
        if own is not None:
            return own
    return next((p for p in policies if p.service_id is None), None)


def _condition_met(level: LevelSnapshot, incident: Incident) -> bool:
    if level.major_impact_only:
        return is_major_impact(incident)
    return True


def is_major_impact(incident: Incident) -> bool:
    """§8.4 重大影響: P1, or business impact 売上損失."""
    return (
        incident.priority == Priority.P1 or incident.business_impact == BusinessImpact.REVENUE_LOSS
    )


def clock_for(incident: Incident) -> str:
    """The clock the chain runs on: the one of the priority's response target (§8.1): P1-P3
    round the clock, P4 (営業時間内対応) on the business calendar, so a P4 filed on Friday
    evening is not escalated over the weekend and never pages developers at night."""
    if not incident.priority:
        return Clock.ALWAYS
    target = config_cache.current().response_targets.get(incident.priority)
    if target is not None:
        return target.clock
    from .defaults import RESPONSE_TARGETS

    return RESPONSE_TARGETS[incident.priority][1]


def business_clock_priorities() -> list[str]:
    """The priorities whose chain runs on the business calendar (P4 by default)."""
    from .defaults import RESPONSE_TARGETS

    stored = {p: t.clock for p, t in config_cache.current().response_targets.items()}
    return [
        p
        for p in Priority.values
        if stored.get(p, RESPONSE_TARGETS.get(p, (0, Clock.ALWAYS))[1]) == Clock.BUSINESS
    ]


def _snapshot(policy: EscalationPolicy, incident: Incident) -> dict:
    """The JSON stored on the clock: the policy now, on the clock of the incident's target."""
    return policy.snapshot(clock=clock_for(incident)).dump()


def _after(snapshot: PolicySnapshot, start: datetime, minutes: float) -> datetime:
    """``start`` + ``minutes`` on the chain's clock (business minutes on the business clock)."""
    if snapshot.business_clock:
        from itsm.core.business_calendar import current_calendar

        return current_calendar().add_business_minutes(start, round(minutes))
    return start + timedelta(minutes=minutes)


def _fraction_of(
    snapshot: PolicySnapshot, start: datetime, due: datetime, fraction: float
) -> datetime:
    """The moment ``fraction`` of the response target (start → due) has passed, on its clock."""
    if snapshot.business_clock:
        from itsm.core.business_calendar import current_calendar

        calendar = current_calendar()
        total = calendar.business_minutes_between(start, due)
        return calendar.add_business_minutes(start, round(total * fraction))
    return start + (due - start) * fraction


def recipients(row: LevelSnapshot | None, *, level: int | None = None, now=None, batch=None):
    """People and teams a level reaches now (``paging.targets``): the on-call person of its
    schedule, its person, its team, the holders of its role — or the teams on its rung."""
    if batch is not None:
        found = batch.targets(row, level=level)
    else:
        found = paging.targets(row, level=level, now=now or timezone.now())
    return [user for user, _target in found.people.values()], found.teams


# ---------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Due:
    key: str
    kind: str
    due_at: datetime
    level: int | None
    reason: str
    row: LevelSnapshot | None = None


def _clock_running(incident: Incident, clock: IncidentEscalation | None) -> bool:
    return (
        clock is not None
        and clock.stopped_at is None
        and incident.state != IncidentState.CLOSED
        and incident.recovered_at is None
    )


clock_running = _clock_running


def plan(incident: Incident, clock: IncidentEscalation | None, done: set[str]) -> list[Due]:
    """The steps still ahead of the incident, each with its due time (soonest first)."""
    if not _clock_running(incident, clock):
        return []
    snapshot = clock.policy_snapshot
    ahead: list[Due] = []
    detected, due = incident.clock_from, incident.response_due_at
    if incident.response_started_at is None and due is not None and clock.cycle == 1:
        for fraction in snapshot.warnings:
            ahead.append(
                Due(
                    key=f"response:warn:{round(fraction * 100)}",
                    kind=StepKind.WARNING,
                    due_at=_fraction_of(snapshot, detected, due, fraction),
                    level=None,
                    reason=EscalationReason.RESPONSE_WARNING,
                )
            )
        ahead.append(
            Due("response:breach", StepKind.BREACH, due, None, EscalationReason.RESPONSE_BREACH)
        )
    current = incident.escalation_level or 1
    # §8.4: counted from the start of response (or from detection while unanswered), and from
    # the moment the current level was reached.
    anchor = max(
        clock.started_at,
        clock.level_reached_at,
        incident.response_started_at or incident.clock_from,
    )
    nxt = next_level(snapshot, incident, above=current)
    if nxt is not None:
        ahead.append(
            Due(
                key=f"c{clock.cycle}:L{nxt.level}",
                kind=StepKind.AUTOMATIC,
                due_at=_after(snapshot, anchor, nxt.delay_minutes),
                level=nxt.level,
                reason=EscalationReason.NOT_RECOVERED,
                row=nxt,
            )
        )
    for row in snapshot.notify_only():
        if current < row.after_level:
            continue
        if not _condition_met(row, incident):
            continue
        ahead.append(
            Due(
                key=f"c{clock.cycle}:N{row.level}",
                kind=StepKind.NOTIFY,
                due_at=_after(snapshot, clock.level_reached_at, row.delay_minutes),
                level=row.level,
                reason=(
                    EscalationReason.MAJOR_IMPACT
                    if row.major_impact_only
                    else EscalationReason.NOT_RECOVERED
                ),
                row=row,
            )
        )
    order = {StepKind.WARNING: 0, StepKind.BREACH: 1, StepKind.AUTOMATIC: 2, StepKind.NOTIFY: 3}
    return sorted((d for d in ahead if d.key not in done), key=lambda d: (d.due_at, order[d.kind]))


def next_level(snapshot: PolicySnapshot, incident: Incident, *, above: int):
    """The chain's next level above ``above`` whose condition the incident meets."""
    return next(
        (row for row in snapshot.chain() if row.level > above and _condition_met(row, incident)),
        None,
    )


def _done_keys(incident: Incident) -> set[str]:
    return set(EscalationStep.objects.filter(incident=incident).values_list("key", flat=True))


def _clock(incident: Incident) -> IncidentEscalation | None:
    return IncidentEscalation.objects.filter(incident=incident).first()


def next_deadline(incident: Incident, clock=None, done=None) -> datetime | None:
    clock = clock if clock is not None else _clock(incident)
    ahead = plan(incident, clock, done if done is not None else _done_keys(incident))
    return ahead[0].due_at if ahead else None


def upcoming(incident: Incident) -> Due | None:
    """The next automatic level step ("escalates to L3 at 10:45")."""
    clock = _clock(incident)
    return next((d for d in plan(incident, clock, _done_keys(incident)) if d.level), None)


@dataclass(frozen=True)
class NextStep:
    """What the escalation clock does next, for the header and the panel alike (issue 14 #7)."""

    at: datetime
    kind: str
    label: str
    level: int | None


def step_label(due: Due) -> str:
    """ "warning 75 %", "response target", "L2", "L5 informed"."""
    if due.kind == StepKind.WARNING:
        return _("warning %(percent)s %%") % {"percent": due.key.rsplit(":", 1)[-1]}
    if due.kind == StepKind.BREACH:
        return _("response target")
    if due.kind == StepKind.NOTIFY:
        return _("L%(level)s informed") % {"level": due.level}
    return f"L{due.level}"


def transition_summary(incident: Incident, name: str = "") -> str:
    """The tail of the message after a transition: the next escalation, when there is one
    (registered with ``itsm.core.workflow.register_summary``)."""
    due = upcoming(incident) if incident.is_open else None
    if due is None:
        return ""
    at = timezone.localtime(due.due_at)
    same_day = at.date() == timezone.localdate()
    return _("Next escalation: L%(level)s at %(time)s.") % {
        "level": due.level,
        "time": date_format(at, "H:i" if same_day else "Y-m-d H:i"),
    }


def next_step(incident: Incident, clock=None) -> NextStep | None:
    """The soonest step still ahead (the moment ``next_deadline_at`` stores), labelled; None
    when the clock will do nothing more on its own ("No further automatic escalation").
    Cached on the instance so every place on a page shows the same answer."""
    cached = getattr(incident, "_next_step", False)
    if cached is not False:
        return cached
    clock = clock if clock is not None else _clock(incident)
    ahead = plan(incident, clock, _done_keys(incident)) if clock else []
    result = (
        NextStep(
            at=ahead[0].due_at, kind=ahead[0].kind, label=step_label(ahead[0]), level=ahead[0].level
        )
        if ahead
        else None
    )
    incident._next_step = result
    return result


# ---------------------------------------------------------------------------- applying steps


def _timeline(incident, *, actor, text, data, batch=None):
    entry = TimelineEntry(
        incident=incident,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label="" if actor else "escalation clock",  # shown translated (core.audit)
        kind=TimelineKind.ESCALATION,
        text=text,
        data=data,
    )
    if batch is not None:
        batch.timeline.append(entry)
    else:
        entry.save(force_insert=True)


def _event(incident, *, batch=None, **fields) -> None:
    """The step's audit event (``record_event``), or handed to the sweep's batch."""
    if batch is not None:
        batch.events.append(audit_event(incident, **fields))
    else:
        record_event(incident, **fields)


def _save_clock(clock: IncidentEscalation, fields: list[str], batch=None) -> None:
    if batch is not None:
        batch.clocks_changed[clock.pk] = clock
    else:
        clock.save(update_fields=fields)


def _notify_step(
    incident, step: EscalationStep, *, people, teams, message, batch=None, **params
) -> int:
    """Notify about one step; the text is rendered per reader from ``message`` + ``params``
    (incidents/notification_messages.py). A sweep's batch counts the people onto the step when
    it writes the rows (returns 0 here)."""
    fields = {
        "key": f"{incident.number}:{step.key}",
        "message": message,
        "params": {"number": incident.number, "title": incident.title, **params},
        "url": incident.get_absolute_url(),
        "teams": teams,
        "urgency": paging.urgency_of(incident),
        "thread": incident.number,
    }
    if batch is not None:
        batch.notify(step, Notice.of(people, **fields))
        return 0
    return len(notify(people, **fields))


def _responders(incident: Incident, batch=None):
    """The assignee and the incident's team (response warnings go to them)."""
    people, teams = [], []
    if incident.assignee_id:
        people.append(incident.assignee)
    if incident.team_id:
        teams.append(incident.team)
        if batch is not None:
            people += batch.members(incident.team)
        else:
            people += list(incident.team.members.filter(is_active=True))
    return people, teams


def _record(
    incident, due: Due, *, actor=None, comment="", from_level=None, reason=None, now, batch=None
):
    """Insert the step row; None when it was applied already (by a racing sweep or a person).
    In a sweep's batch the incident's row lock is held and its keys were read under it: the
    step is new unless its key is among them (the unique constraint still guards the INSERT)."""
    step = EscalationStep(
        incident=incident,
        key=due.key,
        kind=due.kind,
        level=due.level,
        from_level=from_level,
        reason=reason or due.reason,
        comment=comment,
        due_at=due.due_at,
        applied_at=now,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if batch is not None:
        return batch.record(step)
    try:
        with transaction.atomic():
            step.save(force_insert=True)
            return step
    except IntegrityError:
        return None


def _raise_level(
    incident, clock, due: Due, *, actor=None, comment="", reason=None, now, batch=None
):
    """Move the incident to ``due.level`` and tell that level's targets."""
    from_level = incident.escalation_level or 1
    if (
        reason is None
        and due.reason == EscalationReason.NOT_RECOVERED
        and _unacknowledged(incident, from_level, batch)
    ):
        reason = EscalationReason.NOT_ACKNOWLEDGED
    step = _record(
        incident,
        due,
        actor=actor,
        comment=comment,
        from_level=from_level,
        reason=reason,
        now=now,
        batch=batch,
    )
    if step is None:
        return None
    incident.escalation_level = due.level
    # Automatic steps count the next delay from when they were due, so timings never drift
    # with the sweep interval; a person's escalation counts from the moment they made it.
    clock.level_reached_at = due.due_at if actor is None else now
    _save_clock(clock, ["level_reached_at"], batch)
    # The levels below stop paging: the incident has climbed past them.
    paging.stop_pages(incident, below_level=due.level, now=now, batch=batch)
    label = level_label(due.level)
    step.notified = paging.page_level(
        incident,
        step,
        due.row,
        now=now,
        message="incidents.escalated",
        params={"level": due.level, "reason": step.reason, "comment": comment},
        actor=actor,
        batch=batch,
    )
    if batch is None:
        step.save(update_fields=["notified"])
    _timeline(
        incident,
        actor=actor,
        text=_("Escalated L%(from)s → %(to)s: %(reason)s")
        % {"from": from_level, "to": label, "reason": EscalationReason(step.reason).label}
        + (f"\n{comment}" if comment else ""),
        data={"step": step.key, "level": due.level, "from": from_level, "reason": step.reason},
        batch=batch,
    )
    _event(
        incident,
        batch=batch,
        action="escalate",
        actor=actor,
        actor_label="" if actor else "escalation clock",
        comment=comment,
        data={"step": step.key, "from": from_level, "to": due.level, "reason": step.reason},
    )
    return step


def _unacknowledged(incident: Incident, level: int, batch=None) -> bool:
    """The level's people were paged and nobody acknowledged (the climb's reason)."""
    if batch is not None:
        return batch.unacknowledged(incident, level)
    pages = Page.objects.filter(incident=incident, level=level)
    return pages.exists() and not pages.filter(acknowledged_at__isnull=False).exists()


def _apply(incident, clock, due: Due, *, now, batch=None) -> EscalationStep | None:
    if due.kind == StepKind.AUTOMATIC:
        return _raise_level(incident, clock, due, now=now, batch=batch)
    step = _record(incident, due, from_level=incident.escalation_level, now=now, batch=batch)
    if step is None:
        return None
    number = incident.number
    if due.kind == StepKind.WARNING:
        people, teams = _responders(incident, batch)
        if not people:
            people, teams = recipients(
                clock.policy_snapshot.chain_level(1), level=1, now=now, batch=batch
            )
        percent = due.key.rsplit(":", 1)[-1]
        due_text = timezone.localtime(incident.response_due_at).strftime("%H:%M")
        title = _("%(number)s: %(percent)s%% of the response target passed (due %(due)s)") % {
            "number": number,
            "percent": percent,
            "due": due_text,
        }
        step.notified = _notify_step(
            incident,
            step,
            people=people,
            teams=teams,
            message="incidents.response_warning",
            batch=batch,
            percent=percent,
            due=incident.response_due_at.isoformat(),
        )
        _timeline(incident, actor=None, text=title, data={"step": step.key}, batch=batch)
    elif due.kind == StepKind.BREACH:
        clock.response_breached_at = due.due_at
        _save_clock(clock, ["response_breached_at"], batch)
        people, teams = _responders(incident, batch)
        current_people, current_teams = recipients(
            clock.policy_snapshot.chain_level(incident.escalation_level or 1),
            level=incident.escalation_level or 1,
            now=now,
            batch=batch,
        )
        title = _("%(number)s: response target breached") % {"number": number}
        step.notified = _notify_step(
            incident,
            step,
            people=people + current_people,
            teams=teams + current_teams,
            message="incidents.response_breached",
            batch=batch,
        )
        _timeline(incident, actor=None, text=title, data={"step": step.key}, batch=batch)
        _event(
            incident,
            batch=batch,
            action="response_breached",
            actor_label="escalation clock",
            data={"due": due.due_at.isoformat()},
        )
        # §8.4 / issue: a breach escalates one level at once.
        nxt = next_level(clock.policy_snapshot, incident, above=incident.escalation_level or 1)
        if nxt is not None:
            _raise_level(
                incident,
                clock,
                Due(
                    f"c{clock.cycle}:L{nxt.level}",
                    StepKind.AUTOMATIC,
                    due.due_at,
                    nxt.level,
                    EscalationReason.RESPONSE_BREACH,
                    nxt,
                ),
                now=now,
                batch=batch,
            )
    elif due.kind == StepKind.REPORT:
        # §8.3.1 報告: the level is paged (its on-call person) and waits for acknowledgement.
        title = _informed(number, due)
        _timeline(
            incident,
            actor=None,
            text=title,
            data={"step": step.key, "level": due.level},
            batch=batch,
        )
        step.notified = paging.page_level(
            incident,
            step,
            due.row,
            now=now,
            message="incidents.informed",
            params={"level": due.level, "reason": due.reason},
            batch=batch,
        )
    elif due.kind == StepKind.NOTIFY:
        people, teams = recipients(due.row, level=due.level, now=now, batch=batch)
        title = _informed(number, due)
        step.notified = _notify_step(
            incident,
            step,
            people=people,
            teams=teams,
            message="incidents.informed",
            batch=batch,
            level=due.level,
            reason=due.reason,
        )
        _timeline(
            incident,
            actor=None,
            text=title,
            data={"step": step.key, "level": due.level},
            batch=batch,
        )
    if batch is None:
        step.save(update_fields=["notified"])
    return step


def _informed(number: str, due: Due) -> str:
    return _("%(number)s: %(level)s informed (%(reason)s)") % {
        "number": number,
        "level": level_label(due.level),
        "reason": EscalationReason(due.reason).label,
    }


def apply_due_steps(incident: Incident, *, now=None) -> int:
    """Apply every step of ``incident`` that is due at ``now`` (its row must be locked by the
    caller) and store the next deadline. Returns the number of steps applied."""
    now = now or timezone.now()
    clock = _clock(incident)
    done = before = _done_keys(incident)
    for _round in range(MAX_STEPS_PER_INCIDENT):
        ahead = [d for d in plan(incident, clock, done) if d.due_at <= now]
        if not ahead:
            break
        _apply(incident, clock, ahead[0], now=now)
        done = _done_keys(incident)
    applied = len(done - before)
    incident.next_deadline_at = next_deadline(incident, clock, done)
    Incident.objects.filter(pk=incident.pk).update(
        escalation_level=incident.escalation_level, next_deadline_at=incident.next_deadline_at
    )
    return applied


def sweep_deadlines(*, now=None, batch_size: int = SWEEP_BATCH_SIZE) -> int:
    """The beat task's service: apply the steps of every incident whose deadline has passed.

    Each batch is one transaction over rows locked with ``SKIP LOCKED``, so several workers (or
    beats started by mistake) share the work instead of repeating it; its cost grows with the
    number of due rows (index on ``next_deadline_at``), not with the number of open incidents.
    A batch applies one due step per incident and writes them together (``SweepBatch``); an
    incident with more steps due is picked again by the next batch. Should the batch fail, its
    incidents are applied one by one, each in its own savepoint: one broken incident must not
    stop the others.
    """
    now = now or timezone.now()
    applied, skipped, passes = 0, set(), {}
    while True:
        with transaction.atomic():
            batch = list(
                Incident.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("assignee", "team", "service")
                .filter(next_deadline_at__lte=now)
                .exclude(pk__in=skipped)
                .order_by("next_deadline_at")[:batch_size]
            )
            if not batch:
                return applied
            try:
                with transaction.atomic():
                    applied += _sweep_batch(batch, now=now)
            except Exception:
                logger.warning("escalation sweep: batch failed, one by one", exc_info=True)
                applied += _sweep_one_by_one([incident.pk for incident in batch], now, skipped)
        for incident in batch:
            passes[incident.pk] = passes.get(incident.pk, 0) + 1
            if passes[incident.pk] >= MAX_STEPS_PER_INCIDENT:
                skipped.add(incident.pk)


def _sweep_batch(incidents: list[Incident], *, now) -> int:
    """Apply the first due step of each locked incident, write everything in bulk and store
    each incident's next deadline; returns the number of steps applied."""
    batch = SweepBatch(incidents, now=now)
    for incident in incidents:
        clock, done = batch.clocks.get(incident.pk), batch.done[incident.pk]
        due = [d for d in plan(incident, clock, done) if d.due_at <= now]
        if due:
            _apply(incident, clock, due[0], now=now, batch=batch)
        ahead = plan(incident, clock, done)
        incident.next_deadline_at = ahead[0].due_at if ahead else None
    batch.write(incidents)
    return len(batch.steps)


def _sweep_one_by_one(pks: list[int], now, skipped: set) -> int:
    """The batch's incidents (still locked) each in a savepoint, reloaded: the failed batch
    may have changed them in memory."""
    applied = 0
    for incident in Incident.objects.select_related("assignee", "team", "service").filter(
        pk__in=pks
    ):
        try:
            with transaction.atomic():
                applied += apply_due_steps(incident, now=now)
        except Exception:  # one broken incident must not stop the others
            logger.exception("escalation sweep failed on %s", incident.number)
            skipped.add(incident.pk)
    return applied


class SweepBatch:
    """What one sweep batch writes, written together (issue 20).

    The locked incidents' clocks, step keys and pages are read in one query each, a level's
    people and a team's members once per batch. The steps, pages, notification rows (one
    ``notify_many``), timeline entries and audit events are then inserted in bulk, and the
    clocks and incidents updated in one statement each. Each incident takes at most one step
    per batch, so nothing a step writes is read back before the batch is written.
    """

    def __init__(self, incidents: list[Incident], *, now, new_clocks: dict | None = None):
        """``new_clocks``: the incidents were opened in this transaction (``services.
        open_incidents``) with these clocks (incident pk → clock): they have no steps or
        pages yet, so nothing is read."""
        self.now = now
        self.fresh = new_clocks is not None
        pks = [incident.pk for incident in incidents]
        self.done: dict[int, set[str]] = {pk: set() for pk in pks}
        self.old_pages: dict[int, list[dict]] = {pk: [] for pk in pks}
        if self.fresh:
            self.clocks = new_clocks
        else:
            self.clocks = {
                clock.incident_id: clock
                for clock in IncidentEscalation.objects.filter(incident_id__in=pks)
            }
            for pk, key in EscalationStep.objects.filter(incident_id__in=pks).values_list(
                "incident_id", "key"
            ):
                self.done[pk].add(key)
            for page in Page.objects.filter(incident_id__in=pks).values(
                "id", "incident_id", "level", "acknowledged_at", "stopped_at", "step__key"
            ):
                self.old_pages[page["incident_id"]].append(page)
        self.steps, self.pages, self.timeline, self.events = [], [], [], []
        self.notices: list[tuple[EscalationStep, Notice, Page | None]] = []
        self.clocks_changed: dict[int, IncidentEscalation] = {}
        self.stopped: list[int] = []
        self.cancelled: set[str] = set()
        self._targets: dict = {}
        self._members: dict = {}

    # What the steps read.

    def targets(self, row: LevelSnapshot | None, *, level: int | None) -> paging.Targets:
        key = (row, level)
        if key not in self._targets:
            self.read_targets([key])
        return self._targets[key]

    def read_targets(self, levels) -> None:
        """Read the targets of the (row, level)s ``levels`` the steps will page, together."""
        wanted = [key for key in dict.fromkeys(levels) if key not in self._targets]
        if wanted:
            self._targets.update(paging.targets_of(wanted, now=self.now))

    def members(self, team) -> list:
        if team.pk not in self._members:
            self._members[team.pk] = list(team.members.filter(is_active=True))
        return self._members[team.pk]

    def unacknowledged(self, incident: Incident, level: int) -> bool:
        pages = [p for p in self.old_pages[incident.pk] if p["level"] == level]
        return bool(pages) and all(p["acknowledged_at"] is None for p in pages)

    # What the steps write.

    def record(self, step: EscalationStep) -> EscalationStep | None:
        done = self.done[step.incident_id]
        if step.key in done:
            return None
        done.add(step.key)
        self.steps.append(step)
        return step

    def page(self, pages: list[Page]) -> None:
        self.pages += pages

    def notify(self, step: EscalationStep, notice: Notice, *, page: Page | None = None) -> None:
        self.notices.append((step, notice, page))
        if self.fresh:
            # Nobody can have been notified about a new incident's step: each person's in-app
            # row will be written, and the step is inserted with their number.
            step.notified += len(notice.people)

    def stop_pages(self, incident: Incident, *, below_level: int | None) -> int:
        stopped = 0
        for page in self.old_pages[incident.pk]:
            if page["acknowledged_at"] or page["stopped_at"]:
                continue
            if below_level is not None and page["level"] >= below_level:
                continue
            page["stopped_at"] = self.now
            self.stopped.append(page["id"])
            self.cancelled.add(f"{incident.number}:{page['step__key']}")
            stopped += 1
        return stopped

    def write(self, incidents: list[Incident]) -> None:
        if self.fresh:
            self._write_fresh()
            return
        insert_rows(self.steps, self.timeline, self.events)
        if self.stopped:
            Page.objects.filter(pk__in=self.stopped).update(
                stopped_at=self.now, next_repeat_at=None
            )
        cancel_pending(*sorted(self.cancelled))
        insert_rows(self.pages)
        self._link_pages()
        # Every notice is about a step this batch inserted.
        notify_many([notice for _step, notice, _page in self.notices], new_events=True)
        for step, notice, _page in self.notices:
            step.notified += len(notice.created)
        update_each([s for s in self.steps if s.notified], ["notified"])
        update_each(
            list(self.clocks_changed.values()), ["level_reached_at", "response_breached_at"]
        )
        update_each(incidents, ["escalation_level", "next_deadline_at"])

    def _write_fresh(self) -> None:
        """New incidents (``services.open_incidents``): their clocks, steps, timeline entries
        and audit events in one statement, their pages in a second (they name the steps), the
        notification rows in a third (they carry the pages' links), with nothing read back."""
        insert_rows(list(self.clocks.values()), self.steps, self.timeline, self.events)
        insert_rows(self.pages)
        self._link_pages()
        notices = [notice for _step, notice, _page in self.notices]
        notify_many(notices, new_events=True, new_threads=True)

    def _link_pages(self) -> None:
        for _step, notice, page in self.notices:
            if page is not None:
                notice.links = {**notice.links, "ack_url": paging.ack_link(page)}


# ---------------------------------------------------------------------------- the clock


def new_clock(incident: Incident, *, now, cycle: int = 1) -> IncidentEscalation | None:
    """The incident's clock, not saved yet: the track's policy copied onto it, counting from
    ``clock_from`` (the first cycle) or ``now`` (a reopen). None without an active policy."""
    policy = policy_for(incident)
    if policy is None:
        logger.warning("%s: no active escalation policy for its track", incident.number)
        return None
    started = incident.clock_from if cycle == 1 else now
    return IncidentEscalation(
        incident=incident,
        policy=policy,
        snapshot=_snapshot(policy, incident),
        cycle=cycle,
        started_at=started,
        level_reached_at=started,
        stopped_at=None,
    )


def start_clock(incident: Incident, *, now=None, cycle: int = 1) -> IncidentEscalation | None:
    """Copy the track's policy onto the incident and start counting (on triage or reopen)."""
    now = now or timezone.now()
    clock = new_clock(incident, now=now, cycle=cycle)
    if clock is None:
        return None
    if cycle == 1:
        # The first cycle: the incident has no clock yet (a triage, or a reopen of an incident
        # that never had one), so a plain INSERT, without update_or_create's lookup.
        clock.save(force_insert=True)
    else:
        fields = ("policy", "snapshot", "cycle", "started_at", "level_reached_at", "stopped_at")
        clock, _created = IncidentEscalation.objects.update_or_create(
            incident=incident, defaults={name: getattr(clock, name) for name in fields}
        )
    incident.escalation_level = 1
    if cycle > 1:
        row = clock.policy_snapshot.chain_level(1)
        _apply(
            incident,
            clock,
            Due(f"c{cycle}:L1", StepKind.REPORT, now, 1, EscalationReason.REOPENED, row),
            now=now,
        )
    elif incident.track == Track.URGENT:
        # §8.3.1 報告フロー 3 優先度に応じてエスカレーション: P1/P2 tell L2 at once.
        report(incident, clock, level=2, now=now)
    return clock


def report(incident: Incident, clock, *, level: int, now, batch=None) -> None:
    """§8.3.1 報告フロー: page level ``level`` about the incident (``report:L<level>``): the ops
    team (L1) for every new incident, and L2 as well for P1/P2 (``start_clock``)."""
    row = report_row(incident, clock, level)
    _apply(
        incident,
        clock,
        Due(f"report:L{level}", StepKind.REPORT, now, level, EscalationReason.REPORTED, row),
        now=now,
        batch=batch,
    )


def report_row(incident: Incident, clock, level: int) -> LevelSnapshot | None:
    """The level ``report`` pages; without a clock (not triaged yet) the normal track's."""
    if clock is not None:
        return clock.policy_snapshot.chain_level(level)
    policy = policy_for(incident)
    return policy.snapshot().chain_level(level) if policy is not None else None


# Transitions after which the service is back (or the incident carries on elsewhere).
STOPPING = ("verify", "auto_recover", "close", "close_as_duplicate", "resolve_with_parent")


def follow_transition(incident: Incident, name: str) -> None:
    """Keep the clock in step with the incident's lifecycle: triage starts it, a reopen starts a
    new cycle, recovery (``verify``, the monitor's ``auto_recover``) and ``close`` stop it, a
    failed verification (``reject_fix``, ``alerts_refire``) resumes it.

    Called by ``incidents.services.transition`` inside the transition's transaction, after the
    transition method and before the incident is saved: the fields set here are saved with it.
    """
    if incident.pk is None:
        return
    now = timezone.now()
    # Lock the row and take the clock's own fields from the database: the in-memory instance
    # may predate a sweep, and saving it must not undo an escalation.
    fresh = (
        Incident.objects.select_for_update()
        .filter(pk=incident.pk)
        .values("escalation_level", "next_deadline_at")
        .first()
    )
    if fresh:
        incident.escalation_level = fresh["escalation_level"]
    clock = _clock(incident)
    if name == "triage" and clock is None:
        clock = start_clock(incident, now=now)
    elif name == "reopen":
        clock = start_clock(incident, now=now, cycle=(clock.cycle + 1) if clock else 1)
    elif clock is not None and name in STOPPING:
        clock.stopped_at = clock.stopped_at or now
        clock.save(update_fields=["stopped_at"])
        paging.stop_pages(incident, now=now)
    elif clock is not None and name in ("reject_fix", "alerts_refire"):
        # Verification failed: the service is down again, the clock resumes from now.
        clock.stopped_at = None
        clock.started_at = max(clock.started_at, now)
        clock.save(update_fields=["stopped_at", "started_at"])
    incident.next_deadline_at = next_deadline(incident, clock)


def priority_changed(incident: Incident) -> None:
    """After a priority override: a new track means its policy (the steps taken stay), and the
    response deadlines move with the new target."""
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        clock = _clock(locked)
        if clock is not None and clock.stopped_at is None:
            policy = policy_for(locked)
            if policy is not None and policy.pk != clock.policy_id:
                clock.policy = policy
                clock.snapshot = _snapshot(policy, locked)
                clock.save(update_fields=["policy", "snapshot"])
            elif clock.policy_snapshot.clock != clock_for(locked):
                # Same track, other clock (P3 ↔ P4): the chain follows the new target's clock.
                clock.snapshot = replace(clock.policy_snapshot, clock=clock_for(locked)).dump()
                clock.save(update_fields=["snapshot"])
        apply_due_steps(locked)
        incident.escalation_level = locked.escalation_level
        incident.next_deadline_at = locked.next_deadline_at


# ---------------------------------------------------------------------------- manual escalation


def escalate_incident(
    incident: Incident, *, actor, reason: str, comment: str, level: int | None = None
) -> EscalationStep:
    """§8.4 エスカレーション基準: escalate by hand with a reason and a comment.

    One level up; ops managers and above may choose the level. Refusals: 403 (not allowed to
    work incidents / choose a level), 409 (closed, untriaged, already at the top, or someone
    reached that level first), 400 (reason, comment or level invalid).
    """
    if not actor.has_perm("incidents.change_incident"):
        raise workflow.TransitionForbidden(_("You may not escalate incidents."))
    errors = {}
    if reason not in MANUAL_REASONS:
        errors["reason"] = _("Choose one of: %(choices)s.") % {
            "choices": ", ".join(str(r) for r in MANUAL_REASONS)
        }
    comment = (comment or "").strip()
    if not comment:
        errors["comment"] = _("A comment is required.")
    if level is not None:
        try:
            level = int(level)
        except (TypeError, ValueError):
            errors["level"] = _("The level must be a number.")
    if errors:
        raise ValidationError(errors)
    if level is not None and ops_rank(actor) < 3:
        raise workflow.TransitionForbidden(
            _("Only an ops manager or above may choose the escalation level.")
        )
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("assignee", "team")
            .get(pk=incident.pk)
        )
        if locked.state == IncidentState.CLOSED:
            raise workflow.TransitionNotAllowed(_("A closed incident cannot be escalated."))
        clock = _clock(locked)
        if clock is None:
            raise workflow.TransitionNotAllowed(_("Triage the incident before escalating it."))
        current = locked.escalation_level or 1
        levels = [row for row in clock.policy_snapshot.chain() if row.level > current]
        if not levels:
            raise workflow.TransitionNotAllowed(
                _("The incident is already at the highest level (L%(level)s).") % {"level": current}
            )
        if level is None:
            row = levels[0]
        else:
            row = next((r for r in levels if r.level == level), None)
            if row is None:
                raise ValidationError(
                    {
                        "level": _("Choose one of: %(levels)s.")
                        % {"levels": ", ".join(str(r.level) for r in levels)}
                    }
                )
        due = Due(f"c{clock.cycle}:L{row.level}", StepKind.MANUAL, now, row.level, reason, row)
        step = _raise_level(locked, clock, due, actor=actor, comment=comment, now=now)
        if step is None:
            raise workflow.ConcurrentUpdate(
                _("The incident was escalated to this level already; reload and try again.")
            )
        # Anything now due (the L5 branch on reaching L3 with major impact) applies at once.
        apply_due_steps(locked, now=now)
    incident.escalation_level = locked.escalation_level
    incident.next_deadline_at = locked.next_deadline_at
    return step


def escalate_for(
    incident: Incident, *, reason: str, comment: str = "", now=None
) -> EscalationStep | None:
    """One level up by the system, for a reason another app watches (``comms``: a stakeholder
    update overdue, §8.4 business impact). Like a person's escalation without the person: the
    level's targets are paged, the timeline and the audit say why. None when there is nothing
    to climb: the incident is closed or untriaged, already at the highest level, or was raised
    to that level already (the step's key is the level's, so the clock will not raise it
    again either)."""
    check_choice("reason", reason, EscalationReason)
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("assignee", "team")
            .get(pk=incident.pk)
        )
        clock = _clock(locked)
        if locked.state == IncidentState.CLOSED or clock is None:
            return None
        current = locked.escalation_level or 1
        row = next((r for r in clock.policy_snapshot.chain() if r.level > current), None)
        if row is None:
            return None
        due = Due(f"c{clock.cycle}:L{row.level}", StepKind.AUTOMATIC, now, row.level, reason, row)
        step = _raise_level(locked, clock, due, comment=comment, reason=reason, now=now)
        if step is not None:
            apply_due_steps(locked, now=now)
    return step


def manual_levels(incident: Incident, user, clock=None) -> list[dict]:
    """The levels ``user`` may escalate ``incident`` to now (for the form)."""
    clock = clock if clock is not None else _clock(incident)
    if clock is None or not incident.is_open:
        return []
    current = incident.escalation_level or 1
    levels = [row for row in clock.policy_snapshot.chain() if row.level > current]
    return levels if ops_rank(user) >= 3 else levels[:1]


def sweep_interval() -> int:
    return int(getattr(settings, "SWEEP_INTERVAL_SECONDS", 30))
