"""Acknowledging an incident's pages (DESIGN.md § On-call and paging): "I have it".

- ``acknowledge_incident``: from the incident page, the bell, the API or a signed link. Stops the
  paging of the incident's open pages (repeats and deliveries not sent yet), records who, when
  and how on the pages, the timeline and the audit trail, and counts as the human response
  (``response_started_at``, MTTA): a triaged incident moves on to *investigating* as a
  ``start_response`` does when the person may respond; otherwise the response time is recorded
  without a state change. The escalation chain goes on by §8.4's rule (not recovered within the
  level's time, counted from the response).
- ``acknowledge_by_link``: the same for the person a signed one-time link was sent to, without
  a session; the link is spent by its use.
"""

from __future__ import annotations

import contextlib

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import record_event

from . import escalation, paging, services
from .choices import IncidentState, TimelineKind
from .models import AckChannel, Incident, Page, TimelineEntry
from .models.incident import responders


def may_acknowledge(incident: Incident, user) -> bool:
    """People who work incidents, and anybody paged about this one."""
    if not getattr(user, "is_authenticated", False):
        return False
    return (
        user.has_perm("incidents.change_incident")
        or Page.objects.filter(incident=incident, user=user).exists()
    )


def acknowledge_incident(incident: Incident, *, actor, via: str = AckChannel.WEB) -> list[Page]:
    """Acknowledge ``incident`` for ``actor``; returns the pages it stopped. Refusals: 403 (not
    allowed), 409 (closed, or nothing left to acknowledge)."""
    if not may_acknowledge(incident, actor):
        raise workflow.TransitionForbidden(_("You may not acknowledge this incident."))
    now = timezone.now()
    with transaction.atomic():
        locked = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        if locked.state == IncidentState.CLOSED:
            raise workflow.TransitionNotAllowed(_("A closed incident cannot be acknowledged."))
        pages = paging.acknowledge_pages(locked, user=actor, via=via, now=now)
        if not pages and locked.response_started_at is not None:
            raise workflow.TransitionNotAllowed(
                _("%(number)s was acknowledged already.") % {"number": locked.number}
            )
        how = AckChannel(via).label
        if locked.state == IncidentState.TRIAGED and responders(locked, actor):
            services.transition(
                locked,
                "start_response",
                actor=actor,
                comment=_("Acknowledged (%(how)s).") % {"how": how},
            )
        else:
            _record_response(locked, actor=actor, now=now)
        levels = sorted({p.level for p in pages})
        TimelineEntry.objects.create(
            incident=locked,
            actor=actor,
            kind=TimelineKind.PAGING,
            text=_("Acknowledged by %(who)s (%(how)s); paging stopped.")
            % {"who": actor, "how": how},
            data={"acknowledged": [p.pk for p in pages], "levels": levels, "via": via},
        )
        record_event(
            locked,
            action="acknowledge",
            actor=actor,
            data={"via": via, "pages": len(pages), "levels": levels},
        )
    incident.refresh_from_db()
    return pages


def _record_response(incident: Incident, *, actor, now) -> None:
    """The response starts now (first acknowledgement) without a state change: the incident
    is not triaged yet, already worked on, or the person is not one who works it."""
    fields = []
    if incident.response_started_at is None:
        incident.response_started_at = now
        fields.append("response_started_at")
    if incident.assignee_id is None and responders(incident, actor):
        incident.assignee = actor
        fields.append("assignee")
    if fields:
        # The chain counts from the response now: its next deadline moves with it.
        incident.next_deadline_at = escalation.next_deadline(incident)
        fields.append("next_deadline_at")
        Incident.objects.filter(pk=incident.pk).update(**{f: getattr(incident, f) for f in fields})


def acknowledge_by_link(token: str, *, session_user=None) -> Page:
    """Acknowledge the page of a signed link (no session needed); the link is spent.
    ``paging.LinkRefused`` when the link is tampered, expired, used or somebody else's."""
    page = paging.page_for_link(token, session_user=session_user)
    with transaction.atomic():
        spent = Page.objects.filter(pk=page.pk, link_used_at__isnull=True).update(
            link_used_at=timezone.now()
        )
        if not spent:  # a concurrent use of the same link won
            raise paging.LinkRefused(_("This acknowledgement link has been used already."), 409)
        if page.acknowledged_at is None:
            # Closed, or somebody acknowledged first: the page says so.
            with contextlib.suppress(workflow.TransitionNotAllowed):
                acknowledge_incident(page.incident, actor=page.user, via=AckChannel.EMAIL_LINK)
    page.refresh_from_db()
    return page
