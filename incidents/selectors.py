"""Read queries shared by the HTML pages, the API and the home page (STYLE.md §4)."""

from __future__ import annotations

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from .choices import IncidentState, SlaStatus
from .models import ActionItem, Incident, Postmortem

LIST_RELATED = ("service", "assignee", "team")


def incidents() -> QuerySet[Incident]:
    return Incident.objects.select_related(*LIST_RELATED)


def by_response_urgency(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    """Open incidents first, the nearest response deadline first; untriaged ones lead (they
    have no deadline yet and need a person now); closed ones last, newest first."""
    return qs.annotate(
        _bucket=Case(
            When(state=IncidentState.DETECTED, then=Value(0)),
            When(state=IncidentState.CLOSED, then=Value(2)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("_bucket", F("response_due_at").asc(nulls_last=True), "-id")


def filter_sla(qs: QuerySet[Incident], status: str, now=None) -> QuerySet[Incident]:
    """The SLA status of :attr:`Incident.sla_status` as a query (computed on read)."""
    now = now or timezone.now()
    pending = Q(response_due_at__isnull=True)
    started_late = Q(response_started_at__gt=F("response_due_at"))
    waiting_late = Q(response_started_at__isnull=True, response_due_at__lt=now)
    if status == SlaStatus.PENDING:
        return qs.filter(pending)
    if status == SlaStatus.BREACHED:
        return qs.filter(started_late | waiting_late)
    if status == SlaStatus.MET:
        return qs.filter(response_started_at__lte=F("response_due_at"))
    if status == SlaStatus.ON_TRACK:
        return qs.filter(response_started_at__isnull=True, response_due_at__gte=now)
    return qs


def triage_queue() -> QuerySet[Incident]:
    """§8.3.2: incidents still waiting for triage, oldest detection first."""
    return incidents().filter(state=IncidentState.DETECTED).order_by("detected_at", "id")


def timeline_for(incident: Incident):
    return incident.timeline.select_related("actor").order_by("at", "id")


def overdue_postmortems(now=None) -> QuerySet[Postmortem]:
    return Postmortem.objects.overdue(now).select_related("incident", "owner").order_by("due_at")


def overdue_action_items(today=None) -> QuerySet[ActionItem]:
    today = today or timezone.localdate()
    return (
        ActionItem.objects.filter(done=False, due_date__lt=today)
        .select_related("postmortem", "postmortem__incident", "owner")
        .order_by("due_date")
    )


def my_queue(user) -> dict[str, list]:
    """The home page's "my work" section: my open incidents, my action items, postmortems I owe.

    Each list is bounded (the home page shows the most urgent few)."""
    if not getattr(user, "is_authenticated", False):
        return {"incidents": [], "action_items": [], "postmortems": []}
    my_incidents = by_response_urgency(incidents().open().filter(assignee=user))[:20]
    items = (
        ActionItem.objects.filter(owner=user, done=False)
        .select_related("postmortem", "postmortem__incident")
        .order_by(F("due_date").asc(nulls_last=True), "id")[:20]
    )
    owed = (
        Postmortem.objects.unpublished()
        .filter(owner=user)
        .select_related("incident")
        .order_by(F("due_at").asc(nulls_last=True), "id")[:20]
    )
    return {"incidents": list(my_incidents), "action_items": list(items), "postmortems": list(owed)}


def my_open_items(user) -> list[dict]:
    """The home page's "my work" card (contract in itsm/views.py): my incidents by response
    urgency, then the postmortems I owe and my open action items."""
    from django.utils.translation import gettext as _

    queue = my_queue(user)
    items = [
        {
            "number": i.number,
            "title": i.title,
            "url": i.get_absolute_url(),
            "state_label": i.get_state_display(),
            "due": i.response_due_at if i.response_started_at is None else None,
        }
        for i in queue["incidents"]
    ]
    items += [
        {
            "number": p.number,
            "title": p.incident.title,
            "url": p.get_absolute_url(),
            "state_label": p.get_state_display(),
            "due": p.due_at,
        }
        for p in queue["postmortems"]
    ]
    items += [
        {
            "number": a.postmortem.number,
            "title": f"{_('Action item')}: {a.title}",
            "url": a.postmortem.get_absolute_url(),
            "state_label": _("Open"),
            "due": None,
        }
        for a in queue["action_items"]
    ]
    return items
