"""Recovery versus fix (seed §8.2 復旧作業 vs 修正作業, issue 18 part 3).

Service restored (``recovered_at``, set by ``verify``) is not the root cause removed
(``fixed_at``). An incident may close on recovery with "workaround only": it then keeps an open
:class:`~incidents.models.FixFollowUp` until the fix is recorded.

- ``open_follow_up``: called by ``close_incident`` when the closer states "workaround only".
- ``record_fix(incident, actor=…, at=…, change_number=…)``: the root cause is removed —
  ``fixed_at`` set, the open follow-up done, audited and on the timeline. The change app calls
  it when a change linked as *fixed by* closes successfully (``changes.services``).
- ``fix_context``: the incident page's "Root cause fix" panel (``incidents.panels``).
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import record_event
from itsm.core.business_calendar import current_calendar

from .choices import FixStatus, TimelineKind
from .models import FixFollowUp, Incident, IncidentPolicy, TimelineEntry

MAX_CHANGE_NUMBER = 30


def may_record_fix(user) -> bool:
    return bool(getattr(user, "has_perm", None)) and user.has_perm("incidents.change_incident")


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def open_follow_up(incident: Incident, *, actor, due_date=None) -> FixFollowUp:
    """The fix still to come after a workaround; one open follow-up per incident (a reopened and
    again worked-around incident keeps it). Owner: the assignee, else the closer; due like a
    postmortem (IncidentPolicy, business days after the close)."""
    existing = FixFollowUp.objects.open().filter(incident=incident).first()
    if existing is not None:
        return existing
    if due_date is None:
        days = IncidentPolicy.current().postmortem_due_business_days
        start = incident.closed_at or timezone.now()
        due_date = timezone.localtime(current_calendar().add_business_days(start, days)).date()
    follow_up = FixFollowUp.objects.create(
        incident=incident,
        title=(_("Fix the root cause of %(number)s") % {"number": incident.number})[:200],
        owner=incident.assignee or _user(actor),
        due_date=due_date,
    )
    record_event(incident, action="fix_follow_up", actor=actor, data={"due": str(due_date)})
    TimelineEntry.objects.create(
        incident=incident,
        actor=_user(actor),
        kind=TimelineKind.STATUS_UPDATE,
        text=_("Closed on recovery by a workaround; the root-cause fix is tracked as a follow-up."),
        data={"fix_follow_up": follow_up.pk},
    )
    return follow_up


def record_fix(
    incident: Incident,
    *,
    actor,
    at: datetime | None = None,
    change_number: str = "",
    comment: str = "",
    system_label: str = "",
) -> Incident:
    """§8.2 修正作業: the root cause is removed at ``at`` (default now), possibly by a change
    (its number). Whoever may work incidents; ``actor=None`` with a ``system_label`` when a
    service acts on its own. Refused with field messages: a time in the future or before the
    detection, a change number too long; 409 when a fix is already recorded."""
    if actor is not None and not may_record_fix(actor):
        raise PermissionDenied(_("You may not record the fix of an incident."))
    now = timezone.now()
    at = at or now
    change_number = (change_number or "").strip()
    errors = {}
    if at > now:
        errors["at"] = [_("The fix cannot be in the future.")]
    elif at < incident.detected_at:
        errors["at"] = [_("The fix cannot be before the incident was detected.")]
    if len(change_number) > MAX_CHANGE_NUMBER:
        errors["change"] = [_("At most %(n)d characters.") % {"n": MAX_CHANGE_NUMBER}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.fixed_at is not None:
            raise workflow.TransitionNotAllowed(
                _("The fix of this incident is already recorded."), transition="record_fix"
            )
        fields = {"fixed_at": at, "fix_status": FixStatus.FIXED, "fix_change": change_number}
        Incident.objects.filter(pk=incident.pk).update(**fields, updated_at=now)
        for name, value in fields.items():
            setattr(incident, name, value)
        done = (
            FixFollowUp.objects.open()
            .filter(incident=incident)
            .update(done_at=at, change_number=change_number)
        )
        data = {"fixed_at": at.isoformat(), "change": change_number, "follow_ups_done": done}
        record_event(
            incident,
            action="record_fix",
            actor=actor,
            actor_label=system_label,
            comment=comment,
            data=data,
        )
        text = (
            _("Root cause fixed by %(change)s.") % {"change": change_number}
            if change_number
            else _("Root cause fixed.")
        )
        TimelineEntry.objects.create(
            incident=incident,
            at=now,
            actor=_user(actor),
            actor_label=system_label[:150],
            kind=TimelineKind.STATUS_UPDATE,
            text=f"{text} {comment}".strip() if comment else text,
            data=data,
        )
    return incident


def fix_context(request, incident: Incident) -> dict | None:
    """The "Root cause fix" panel: shown once the incident has recovered (or has a fix or a
    follow-up); the form to record the fix while none is recorded."""
    follow_ups = list(incident.fix_follow_ups.select_related("owner"))
    if incident.recovered_at is None and incident.fixed_at is None and not follow_ups:
        return None
    user = getattr(request, "user", None)
    return {
        "follow_ups": follow_ups,
        "can_record_fix": incident.fixed_at is None and may_record_fix(user),
        "now_local": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
