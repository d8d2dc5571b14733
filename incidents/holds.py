"""Holds (issue 18 part 2): pause an incident's resolution clock, with a reason.

- ``put_on_hold(incident, actor=…, reason=…, until=None, comment="")``: waiting for a vendor, for
  the requester, a scheduled fix, monitoring. Refused on a closed incident and on one already on
  hold (a field message each). Pauses the resolution clock only: the response target and the
  escalation chain (§8.1, §8.4) keep counting.
- ``end_hold(incident, actor=…)``: resume the clock (by hand, on a transition, at the planned end).
- ``end_due_holds(now)``: the beat sweep ending holds whose planned end has passed.

A hold is a record beside the incident, not a state of its state machine: the incident keeps
its state (investigating, recovering …) while on hold, so every transition, guard and report of
§8.2 stays as it is; any transition ends the running hold (``incidents.services.transition``).
Each start and end is audited and on the timeline; ``Incident.resolution_due_at`` follows
(empty while on hold). docs/sla.md.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core.audit import record_event

from .choices import HoldReason, IncidentState, TimelineKind, check_choice
from .models import Hold, Incident, TimelineEntry

SWEEP_BATCH = 200


def _require(actor) -> None:
    if not getattr(actor, "has_perm", None) or not actor.has_perm("incidents.change_incident"):
        raise PermissionDenied(_("You may not put incidents on hold."))


def _person(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _timeline(incident: Incident, *, actor, actor_label: str = "", text: str, data: dict) -> None:
    TimelineEntry.objects.create(
        incident=incident,
        actor=_person(actor),
        actor_label=actor_label[:150],
        kind=TimelineKind.HOLD,
        text=text,
        data=data,
    )


def refresh_resolution_due(incident: Incident, *, now: datetime | None = None) -> None:
    """Store the resolution deadline the holds so far imply (none while on hold)."""
    from .sla import explain

    explanation = explain(incident, now=now)
    due = None if explanation.on_hold else explanation.due_at
    if incident.resolution_due_at != due:
        Incident.objects.filter(pk=incident.pk).update(resolution_due_at=due)
        incident.resolution_due_at = due


def active_hold(incident: Incident) -> Hold | None:
    return incident.holds.filter(ended_at__isnull=True).first()


def put_on_hold(
    incident: Incident,
    *,
    actor,
    reason: str,
    until: datetime | None = None,
    comment: str = "",
) -> Hold:
    """Pause the resolution clock of an open incident until ``end_hold`` (or ``until``)."""
    _require(actor)
    check_choice("reason", reason, HoldReason)
    now = timezone.now()
    if until is not None and until <= now:
        raise ValidationError({"until": _("The planned end must be in the future.")})
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.state == IncidentState.CLOSED:
            raise ValidationError({"incident": _("A closed incident cannot be put on hold.")})
        if locked.recovered_at is not None:
            raise ValidationError(
                {"incident": _("The service is recovered: the resolution clock has stopped.")}
            )
        if locked.holds.filter(ended_at__isnull=True).exists():
            raise ValidationError({"incident": _("The incident is already on hold.")})
        try:
            with transaction.atomic():
                hold = Hold.objects.create(
                    incident=locked,
                    reason=reason,
                    comment=comment or "",
                    started_at=now,
                    ends_at_planned=until,
                    started_by=_person(actor),
                )
        except IntegrityError:
            raise ValidationError({"incident": _("The incident is already on hold.")}) from None
        data = {
            "hold": hold.pk,
            "reason": reason,
            "until": until.isoformat() if until else None,
        }
        record_event(incident, action="hold", actor=actor, comment=comment, data=data)
        text = _("On hold: %(reason)s") % {"reason": hold.get_reason_display()}
        if until:
            text += " " + _("(until %(until)s)") % {
                "until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
            }
        if comment:
            text += f" — {comment}"
        _timeline(incident, actor=actor, text=text, data=data)
        refresh_resolution_due(incident, now=now)
    return hold


def end_hold(incident: Incident, *, actor) -> Hold:
    """Resume the resolution clock by hand (``incidents.change_incident``); refused with a field
    message when the incident is not on hold."""
    _require(actor)
    hold = _end(incident, actor=actor, why="resumed")
    if hold is None:
        raise ValidationError({"incident": _("The incident is not on hold.")})
    return hold


def _end(
    incident: Incident,
    *,
    actor,
    system_label: str = "",
    why: str,
    now: datetime | None = None,
) -> Hold | None:
    """End the running hold, if any (safe to call twice): audited, on the timeline, and the
    resolution deadline recomputed."""
    now = now or timezone.now()
    with transaction.atomic():
        hold = (
            Hold.objects.select_for_update()
            .filter(incident=incident, ended_at__isnull=True)
            .first()
        )
        if hold is None:
            return None
        hold.ended_at = max(now, hold.started_at)
        hold.ended_by = _person(actor)
        hold.save(update_fields=["ended_at", "ended_by"])
        data = {"hold": hold.pk, "reason": hold.reason, "why": why}
        record_event(incident, action="end_hold", actor=actor, actor_label=system_label, data=data)
        _timeline(
            incident,
            actor=actor,
            actor_label=system_label,
            text=_("Resumed: %(reason)s") % {"reason": hold.get_reason_display()},
            data=data,
        )
        refresh_resolution_due(incident, now=now)
    return hold


def end_due_holds(now: datetime | None = None) -> int:
    """Beat sweep: end every running hold whose planned end has passed (skip-locked batches,
    safe to run twice or on several workers)."""
    now = now or timezone.now()
    ended = 0
    while True:
        with transaction.atomic():
            due = list(
                Hold.objects.select_for_update(skip_locked=True)
                .filter(ended_at__isnull=True, ends_at_planned__lte=now)
                .select_related("incident")
                .order_by("ends_at_planned")[:SWEEP_BATCH]
            )
            for hold in due:
                _end(
                    hold.incident,
                    actor=None,
                    system_label=_("planned end of the hold"),
                    why="planned_end",
                    now=hold.ends_at_planned,
                )
                ended += 1
        if len(due) < SWEEP_BATCH:
            return ended


def end_hold_on_transition(incident: Incident, *, actor, system_label: str, name: str) -> None:
    """Any transition resumes the clock (called by ``incidents.services.transition``)."""
    _end(incident, actor=actor, system_label=system_label, why=f"transition:{name}")
