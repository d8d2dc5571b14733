"""Merging a duplicate and resolving a major incident's children (issue 18 §1).

- ``merge_incidents(duplicate, survivor, actor=…)``: the duplicate's timeline (each entry marked
  as merged), and whatever other apps keep about it (alerts, subscribers: ``register_mover``)
  move to the survivor; the survivor keeps the earlier detection time; the duplicate is closed
  as a duplicate of the survivor, with a *duplicate of* link. Both rows are locked (in pk order):
  of two people merging the same pair at once, one wins and the other gets 409. Refused: an
  incident merged into itself, into a closed incident, or one closed already.
- ``resolve_children(parent, actor=…, summary=…)``: every open child of the parent closed with
  one action ("resolved with the parent"), each on its own timeline.

``incidents`` knows nothing of the apps above it; an app that keeps rows per incident moves
them from its ``AppConfig.ready()``::

    from incidents.merging import register_mover

    register_mover("alerts", lambda duplicate, survivor: Alert.objects.filter(...).update(...))

Movers run inside the merge's transaction and return how many rows they moved.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import record_event

from . import services
from .choices import IncidentState, TimelineKind
from .models import Incident, Link, LinkKind, TimelineEntry, response_due_for

Mover = Callable[[Incident, Incident], int]
_movers: dict[str, Mover] = {}


def register_mover(name: str, mover: Mover) -> None:
    _movers[name] = mover


def _label(actor) -> str:
    """The transitions of a merge are the system's (no person may take them on their own); the
    timeline and audit still say who merged."""
    return f"{actor.get_username()} (merge)"[:150]


def merge_incidents(duplicate: Incident, survivor: Incident, *, actor) -> Incident:
    if not actor.has_perm("incidents.change_incident"):
        raise PermissionDenied(_("You may not merge incidents."))
    if duplicate.pk == survivor.pk:
        raise ValidationError({"into": _("An incident cannot be merged into itself.")})
    with transaction.atomic():
        locked = {
            i.pk: i
            for i in Incident.objects.select_for_update()
            .filter(pk__in=[duplicate.pk, survivor.pk])
            .order_by("pk")
        }
        dup, into = locked[duplicate.pk], locked[survivor.pk]
        if dup.state == IncidentState.CLOSED:
            raise workflow.ConcurrentUpdate(
                _("%(number)s is closed already (merged a moment ago?); reload.")
                % {"number": dup.number}
            )
        if into.state == IncidentState.CLOSED:
            raise workflow.TransitionNotAllowed(
                _("%(number)s is closed: merge into an open incident.") % {"number": into.number}
            )
        moved = {"timeline": _move_timeline(dup, into)}
        for name, mover in _movers.items():
            moved[name] = mover(dup, into)
        if dup.detected_at < into.detected_at:
            into.detected_at = dup.detected_at
            fields = {"detected_at": into.detected_at}
            if into.priority:
                fields["response_due_at"] = response_due_for(into.priority, into.clock_from)
            Incident.objects.filter(pk=into.pk).update(**fields)
        Link.objects.get_or_create(
            source=dup, target=into, kind=LinkKind.DUPLICATE_OF, defaults={"created_by": actor}
        )
        text = _("Merged into %(number)s.") % {"number": into.number}
        services.transition(
            dup, "close_as_duplicate", actor=None, comment=text, system_label=_label(actor)
        )
        Incident.objects.filter(pk=dup.pk).update(resolution_summary=text)
        services.add_timeline_entry(
            into,
            actor=actor,
            kind=TimelineKind.LINK,
            text=_("%(number)s merged into this incident.") % {"number": dup.number},
            data={"merge": dup.number, "moved": moved},
        )
        record_event(into, action="merge", actor=actor, data={"from": dup.number, **moved})
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    return survivor


def _move_timeline(dup: Incident, into: Incident) -> int:
    entries = list(TimelineEntry.objects.filter(incident=dup))
    for entry in entries:
        entry.incident = into
        entry.data = {**(entry.data or {}), "merged_from": dup.number}
    TimelineEntry.objects.bulk_update(entries, ["incident", "data"])
    return len(entries)


def children(parent: Incident):
    return Incident.objects.filter(links_in__source=parent, links_in__kind=LinkKind.PARENT_OF)


def resolve_children(parent: Incident, *, actor, summary: str = "") -> list[Incident]:
    """Close every open child of ``parent`` with one action; returns those closed."""
    if not actor.has_perm("incidents.change_incident"):
        raise PermissionDenied(_("You may not resolve incidents."))
    summary = (summary or "").strip() or _("Resolved with %(number)s.") % {"number": parent.number}
    done = []
    with transaction.atomic():
        for child in children(parent).exclude(state=IncidentState.CLOSED).order_by("pk"):
            services.transition(
                child,
                "resolve_with_parent",
                actor=None,
                comment=summary,
                system_label=_label(actor),
            )
            Incident.objects.filter(pk=child.pk).update(resolution_summary=summary)
            done.append(child)
    if not done:
        raise ValidationError({"children": _("No open child incident to resolve.")})
    return done
