"""Links between incidents (issue 18 §1): link, unlink, read from both sides, find candidates.

- ``link_incidents(source, target, kind=…, actor=…)``: one typed link, audited and on both
  timelines. Refused with a field message: an incident linked to itself, the same link twice
  (or *related* both ways), a chain that would loop (an incident its own ancestor, cause or
  duplicate). The two incidents are locked while the chain is checked, so two people linking
  A → B and B → A at once cannot both succeed.
- ``unlink(link, actor=…)``.
- ``links_of(incident)``: each link as the incident's page reads it.
- ``candidates(incident, q)``: incidents to link to, by number or title, same service and the
  same days first.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils.translation import gettext as _

from itsm.core.audit import record_event

from .choices import TimelineKind, check_choice
from .models import DIRECTED_KINDS, Incident, Link, LinkKind, TimelineEntry

MAX_CANDIDATES = 20


def _require(actor) -> None:
    if not getattr(actor, "has_perm", None) or not actor.has_perm("incidents.change_incident"):
        raise PermissionDenied(_("You may not link incidents."))


def reaches(start: Incident, goal: Incident, kind: str) -> bool:
    """``start`` leads to ``goal`` through links of ``kind`` (one query per step of the chain)."""
    seen, frontier = {start.pk}, {start.pk}
    while frontier:
        frontier = (
            set(
                Link.objects.filter(source_id__in=frontier, kind=kind).values_list(
                    "target_id", flat=True
                )
            )
            - seen
        )
        if goal.pk in frontier:
            return True
        seen |= frontier
    return False


def _timeline(incident: Incident, *, actor, text: str, data: dict) -> None:
    TimelineEntry.objects.create(
        incident=incident,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        kind=TimelineKind.LINK,
        text=text,
        data=data,
    )


def link_incidents(source: Incident, target: Incident, *, kind: str, actor) -> Link:
    _require(actor)
    check_choice("kind", kind, LinkKind)
    if source.pk == target.pk:
        raise ValidationError({"target": _("An incident cannot be linked to itself.")})
    with transaction.atomic():
        # Both rows locked in a fixed order: the chain check sees every committed link.
        list(
            Incident.objects.select_for_update()
            .filter(pk__in=[source.pk, target.pk])
            .order_by("pk")
        )
        if (
            kind == LinkKind.RELATED
            and Link.objects.filter(source=target, target=source, kind=kind).exists()
        ):
            raise ValidationError({"target": _("These incidents are linked already.")})
        if kind in DIRECTED_KINDS and reaches(target, source, kind):
            raise ValidationError(
                {
                    "target": _(
                        "%(target)s already leads back to %(source)s: the link would make a loop."
                    )
                    % {"target": target.number, "source": source.number}
                }
            )
        try:
            with transaction.atomic():
                link = Link.objects.create(
                    source=source, target=target, kind=kind, created_by=actor
                )
        except IntegrityError:
            raise ValidationError({"target": _("These incidents are linked already.")}) from None
        data = {"link": link.pk, "kind": kind, "source": source.number, "target": target.number}
        record_event(source, action="link", actor=actor, data=data)
        for incident in (source, target):
            _timeline(
                incident,
                actor=actor,
                text=f"{link.label_from(incident)} {link.other(incident).number}",
                data=data,
            )
    return link


def unlink(link: Link, *, actor) -> None:
    _require(actor)
    with transaction.atomic():
        data = {
            "kind": link.kind,
            "source": link.source.number,
            "target": link.target.number,
        }
        record_event(link.source, action="unlink", actor=actor, data=data)
        for incident in (link.source, link.target):
            _timeline(
                incident,
                actor=actor,
                text=_("Link removed: %(label)s %(other)s")
                % {"label": link.label_from(incident), "other": link.other(incident).number},
                data=data,
            )
        link.delete()


def links_of(incident: Incident) -> list[dict]:
    """The incident's links as its page reads them: label, the other incident, the link."""
    links = Link.objects.filter(Q(source=incident) | Q(target=incident)).select_related(
        "source", "target"
    )
    return [
        {"link": link, "label": link.label_from(incident), "other": link.other(incident)}
        for link in links
    ]


def candidates(incident: Incident, q: str = "", limit: int = MAX_CANDIDATES):
    """Incidents to link ``incident`` to: matching ``q`` (number or title), else those detected
    within three days of it; the same service first, then the nearest in time."""
    rows = Incident.objects.exclude(pk=incident.pk).select_related("service")
    q = (q or "").strip()
    if q:
        rows = rows.filter(Q(number__iexact=q) | Q(title__icontains=q))
    else:
        window = timedelta(days=3)
        rows = rows.filter(
            detected_at__gte=incident.detected_at - window,
            detected_at__lte=incident.detected_at + window,
        )
    same_service = Case(
        When(service_id=incident.service_id, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return rows.annotate(same_service=same_service).order_by("same_service", "-detected_at")[:limit]


def links_context(request, incident: Incident) -> dict:
    """The incident page's "Linked incidents" panel (``incidents.panels``)."""
    user = getattr(request, "user", None)
    rows = links_of(incident)
    return {
        "links": rows,
        "kinds": LinkKind.choices,
        "can_link": bool(user) and user.has_perm("incidents.change_incident") and incident.is_open,
        "open_children": sum(
            1
            for row in rows
            if row["link"].kind == LinkKind.PARENT_OF
            and row["link"].source_id == incident.pk
            and row["other"].is_open
        ),
    }
