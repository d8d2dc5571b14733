"""Screens of incident management: list, triage queue and screen, detail, postmortems.

Views are thin: forms validate, services write, selectors read (STYLE.md §2–4).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from itsm.core import workflow
from itsm.core.roles import ops_rank

from . import fix, holds, links, merging, selectors, services
from .choices import BusinessImpact, ImpactScope, TimelineKind, Track, Urgency, track_for
from .filters import IncidentFilter
from .forms import (
    ActionItemForm,
    AssignForm,
    IncidentCreateForm,
    PostmortemForm,
    PriorityOverrideForm,
    RunbookAttachForm,
    TimelineEntryForm,
    TriageForm,
)
from .models import (
    ActionItem,
    ChecklistItem,
    Incident,
    IncidentReview,
    Link,
    Postmortem,
    ResponseTarget,
    may_complete_review,
    priority_for,
    response_due_for,
)

PAGE_SIZE = 50


def _can(perm: str):
    return permission_required(f"incidents.{perm}", raise_exception=True)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(m for msgs in exc.message_dict.values() for m in msgs)
    return getattr(exc, "message", str(exc))


def _page(request, qs):
    """Bounded page-by-offset without COUNT(*): fetch one row more to know if there is a next."""
    try:
        page = max(1, min(int(request.GET.get("page", 1)), 1000))
    except ValueError:
        page = 1
    start = (page - 1) * PAGE_SIZE
    rows = list(qs[start : start + PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@login_required
@_can("view_incident")
@require_GET
def incident_list(request):
    """Incident list: filters, search, the nearest response deadline first."""
    data = request.GET.copy()
    if not any(k in data for k in ("state", "open", "q", "priority", "sla")):
        data["open"] = "true"  # default view: what is still open
    filterset = IncidentFilter(data, queryset=selectors.incidents())
    if filterset.is_valid():
        qs, chosen = filterset.qs, filterset.form.cleaned_data
        states = chosen.get("state") or ([Incident.State.CLOSED] if chosen["open"] is False else [])
    else:
        qs, states = selectors.incidents().none(), []
    rows, page, has_next = _page(request, selectors.by_response_urgency(qs, states))
    return render(
        request,
        "incidents/incident_list.html",
        {
            "filter": filterset,
            "incidents": rows,
            "page": page,
            "has_next": has_next,
            "query": _query_without_page(request),
            "triage_count": selectors.triage_queue().count(),
        },
    )


@login_required
@_can("view_incident")
@require_GET
def triage_queue(request):
    """§8.3.2: incidents waiting for triage, oldest first."""
    rows, page, has_next = _page(request, selectors.triage_queue())
    return render(
        request,
        "incidents/triage_queue.html",
        {"incidents": rows, "page": page, "has_next": has_next, "query": ""},
    )


@login_required
@_can("add_incident")
def incident_create(request):
    """§8.3.1 報告フロー 1: create the ticket; untriaged ones go straight to triage."""
    form = IncidentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.open_incident(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, _error_text(exc))
        else:
            messages.success(request, _("%(number)s filed.") % {"number": incident.number})
            if incident.state == Incident.State.DETECTED and ops_rank(request.user) >= 1:
                return redirect("incidents:triage", number=incident.number)
            return redirect(incident)
    return render(
        request,
        "incidents/incident_form.html",
        {"form": form, "targets": ResponseTarget.objects.all()},
        status=400 if form.errors else 200,
    )


@login_required
@_can("change_incident")
def triage(request, number: str):
    """The triage screen: choose scope/impact/urgency; the priority is previewed live."""
    incident = get_object_or_404(selectors.incidents(), number=number)
    if incident.state != Incident.State.DETECTED:
        messages.info(request, _("%(number)s is already triaged.") % {"number": incident.number})
        return redirect(incident)
    form = TriageForm(
        request.POST or None,
        initial={"team": incident.team_id, "assignee": incident.assignee_id or request.user.pk},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.triage_incident(
                incident,
                actor=request.user,
                impact_scope=data["impact_scope"],
                business_impact=data["business_impact"],
                urgency=data["urgency"],
                comment=data["comment"],
                team=data["team"],
                assignee=data["assignee"],
            )
        except (workflow.TransitionError, ValidationError) as exc:
            form.add_error(None, _error_text(exc))
        else:
            messages.success(
                request,
                _("%(number)s triaged as %(priority)s.")
                % {"number": incident.number, "priority": incident.priority},
            )
            return redirect(incident)
    return render(
        request,
        "incidents/triage.html",
        {
            "incident": incident,
            "form": form,
            "preview": _preview(request.POST, incident) if request.method == "POST" else None,
            "targets": ResponseTarget.objects.all(),
        },
        status=400 if form.errors else 200,
    )


def _preview(params, incident: Incident | None = None) -> dict | None:
    """The priority for the chosen inputs and the response due time it gives: from the
    incident's own detection time when triaging an existing incident (what triage will set),
    from now for an incident not yet filed."""
    scope = params.get("impact_scope", "")
    impact = params.get("business_impact", "")
    urgency = params.get("urgency", "")
    if (
        scope not in ImpactScope.values
        or impact not in BusinessImpact.values
        or urgency not in Urgency.values
    ):
        return None
    priority = priority_for(scope, impact, urgency)
    target = ResponseTarget.objects.filter(priority=priority).first()
    detected_at = incident.detected_at if incident is not None else None
    return {
        "priority": priority,
        "track": track_for(priority),
        "urgent": track_for(priority) == Track.URGENT,
        "target": target,
        "detected_at": detected_at,
        "detected_today": detected_at is not None
        and timezone.localtime(detected_at).date() == timezone.localdate(),
        "due": response_due_for(priority, detected_at or timezone.now()),
    }


@login_required
@_can("view_incident")
@require_GET
def priority_preview(request):
    """htmx: the priority the matrix gives for the chosen inputs (partial); ``incident=<number>``
    previews the triage of that incident (its due time counts from its detection)."""
    number = request.GET.get("incident", "")
    incident = selectors.incidents().filter(number=number).first() if number else None
    return render(
        request,
        "incidents/partials/_priority_preview.html",
        {"preview": _preview(request.GET, incident)},
    )


@login_required
@_can("view_incident")
@require_GET
def incident_detail(request, number: str):
    incident = get_object_or_404(selectors.incidents(), number=number)
    runbooks = incident.runbooks.select_related("runbook").prefetch_related("items__done_by")
    postmortem = Postmortem.objects.filter(incident=incident).first()
    # §8.2: the review follows the close (a reopened incident's review waits for the next close).
    review = (
        IncidentReview.objects.filter(incident=incident)
        .select_related("owner", "completed_by")
        .prefetch_related("items")
        .first()
        if incident.state == Incident.State.CLOSED
        else None
    )
    return render(
        request,
        "incidents/incident_detail.html",
        {
            "incident": incident,
            "timeline": selectors.timeline_for(incident),
            "timeline_form": TimelineEntryForm(),
            "override_form": PriorityOverrideForm(initial={"priority": incident.priority}),
            "assign_form": AssignForm(
                initial={"team": incident.team_id, "assignee": incident.assignee_id}
            ),
            "runbook_form": RunbookAttachForm(),
            "runbooks": runbooks,
            "postmortem": postmortem,
            "review": review,
            "can_review": (
                review is not None
                and review.state == IncidentReview.State.PENDING
                and request.user.has_perm("incidents.change_incidentreview")
                and may_complete_review(review, request.user)
            ),
            "can_override": ops_rank(request.user) >= 2 and incident.is_open,
            "can_work": request.user.has_perm("incidents.change_incident"),
            "can_request_postmortem": (
                postmortem is None
                and incident.state == Incident.State.CLOSED
                and request.user.has_perm("incidents.add_postmortem")
            ),
        },
    )


def _incident_for_post(number):
    return get_object_or_404(Incident, number=number)


@login_required
@_can("add_timelineentry")
@require_POST
def timeline_add(request, number: str):
    incident = _incident_for_post(number)
    form = TimelineEntryForm(request.POST)
    if form.is_valid():
        services.add_timeline_entry(incident, actor=request.user, **form.cleaned_data)
        form = TimelineEntryForm()
    if request.headers.get("HX-Request"):
        return render(
            request,
            "incidents/partials/_timeline.html",
            {
                "incident": incident,
                "timeline": selectors.timeline_for(incident),
                "timeline_form": form,
            },
            status=200 if not form.errors else 400,
        )
    if form.errors:
        messages.error(request, _("Write something."))
    return redirect(incident)


@login_required
@_can("change_incident")
@require_POST
def override_priority(request, number: str):
    incident = _incident_for_post(number)
    form = PriorityOverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a priority and give a reason."))
        return redirect(incident)
    try:
        services.override_priority(incident, actor=request.user, **form.cleaned_data)
    except (workflow.TransitionError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Priority changed to %(p)s.") % {"p": incident.priority})
    return redirect(incident)


@login_required
@_can("change_incident")
@require_POST
def assign(request, number: str):
    incident = _incident_for_post(number)
    form = AssignForm(request.POST)
    if form.is_valid():
        services.assign_incident(incident, actor=request.user, **form.cleaned_data)
        messages.success(request, _("Assignment saved."))
    else:
        messages.error(request, _("Choose a valid team or assignee."))
    return redirect(incident)


@login_required
@_can("add_incidentrunbook")
@require_POST
def runbook_attach(request, number: str):
    incident = _incident_for_post(number)
    form = RunbookAttachForm(request.POST)
    if form.is_valid():
        services.attach_runbook(incident, actor=request.user, runbook=form.cleaned_data["runbook"])
    else:
        messages.error(request, _("Choose a runbook."))
    return redirect(incident.get_absolute_url() + "#runbooks")


@login_required
@_can("change_checklistitem")
@require_POST
def checklist_toggle(request, number: str, item_id: int):
    item = get_object_or_404(
        ChecklistItem.objects.select_related("incident_runbook__incident", "done_by"),
        pk=item_id,
        incident_runbook__incident__number=number,
    )
    services.set_checklist_item(item, actor=request.user, done=request.POST.get("done") == "1")
    if request.headers.get("HX-Request"):
        return render(request, "incidents/partials/_checklist_item.html", {"item": item})
    return redirect(item.incident_runbook.incident.get_absolute_url() + "#runbooks")


@login_required
@_can("add_postmortem")
@require_POST
def postmortem_request(request, number: str):
    incident = _incident_for_post(number)
    try:
        pm = services.request_postmortem(incident, actor=request.user)
    except (workflow.TransitionError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
        return redirect(incident)
    return redirect(pm)


@login_required
@_can("change_incidentreview")
@require_POST
def review_save(request, number: str):
    """§8.2 レビュー: save the review checklist and comment, or complete the review."""
    review = get_object_or_404(
        IncidentReview.objects.select_related("incident"), incident__number=number
    )
    checked = [v for v in request.POST.getlist("checked") if v.isdigit()]
    comment = request.POST.get("comment", "")
    complete = request.POST.get("action") == "complete"
    service = services.complete_review if complete else services.save_review
    try:
        service(review, actor=request.user, checked=checked, comment=comment)
    except workflow.TransitionForbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except workflow.TransitionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Review completed.") if complete else _("Review saved."))
    return HttpResponseRedirect(review.get_absolute_url())


# --------------------------------------------------------------------------- postmortems


@login_required
@_can("view_postmortem")
@require_GET
def postmortem_list(request):
    qs = Postmortem.objects.select_related("incident", "owner").order_by("-id")
    overdue = request.GET.get("overdue") == "1"
    if overdue:
        qs = selectors.overdue_postmortems()
    rows, page, has_next = _page(request, qs)
    return render(
        request,
        "incidents/postmortem_list.html",
        {
            "postmortems": rows,
            "page": page,
            "has_next": has_next,
            "query": _query_without_page(request),
            "overdue": overdue,
            "overdue_items": selectors.overdue_action_items()[:50],
        },
    )


def _whys_from_post(post) -> list[dict]:
    whys = post.getlist("why")
    becauses = post.getlist("because")
    return [
        {"why": w, "because": becauses[i] if i < len(becauses) else ""} for i, w in enumerate(whys)
    ]


@login_required
@_can("view_postmortem")
def postmortem_detail(request, number: str):
    pm = get_object_or_404(Postmortem.objects.select_related("incident", "owner"), number=number)
    editable = pm.state != Postmortem.State.PUBLISHED and request.user.has_perm(
        "incidents.change_postmortem"
    )
    if request.method == "POST":
        if not editable:
            return HttpResponse(status=403)
        form = PostmortemForm(request.POST, instance=Postmortem.objects.get(pk=pm.pk))
        if form.is_valid():
            try:
                services.update_postmortem(
                    pm,
                    actor=request.user,
                    **{f: form.cleaned_data[f] for f in PostmortemForm.Meta.fields},
                )
                services.save_whys(pm, actor=request.user, rows=_whys_from_post(request.POST))
            except (workflow.TransitionError, ValidationError) as exc:
                form.add_error(None, _error_text(exc))
            else:
                messages.success(request, _("Saved."))
                return redirect(pm)
    else:
        form = PostmortemForm(instance=pm)
    whys = (
        _whys_from_post(request.POST)
        if request.method == "POST"
        else list(pm.whys.values("why", "because"))
    )
    return render(
        request,
        "incidents/postmortem_detail.html",
        {
            "pm": pm,
            "incident": pm.incident,
            "form": form,
            "whys": whys or [{"why": "", "because": ""}],
            "editable": editable,
            "action_items": pm.action_items.select_related("owner"),
            "action_form": ActionItemForm(),
            "mitigations": pm.incident.timeline.filter(kind=TimelineKind.MITIGATION).select_related(
                "actor"
            ),
        },
        status=400 if form.errors else 200,
    )


@login_required
@_can("add_actionitem")
@require_POST
def action_item_add(request, number: str):
    pm = get_object_or_404(Postmortem, number=number)
    form = ActionItemForm(request.POST)
    if form.is_valid():
        services.add_action_item(pm, actor=request.user, **form.cleaned_data)
    else:
        messages.error(
            request,
            " ".join(m for msgs in form.errors.values() for m in msgs),
        )
    return HttpResponseRedirect(reverse("incidents:postmortem", args=[pm.number]) + "#actions")


@login_required
@_can("change_actionitem")
@require_POST
def action_item_toggle(request, number: str, item_id: int):
    item = get_object_or_404(
        ActionItem.objects.select_related("postmortem"), pk=item_id, postmortem__number=number
    )
    services.set_action_item_done(item, actor=request.user, done=request.POST.get("done") == "1")
    return HttpResponseRedirect(reverse("incidents:postmortem", args=[number]) + "#actions")


# --------------------------------------------------------------------------- links (issue 18)


@login_required
@_can("change_incident")
@require_POST
def link_add(request, number: str):
    incident = get_object_or_404(Incident, number=number)
    target = Incident.objects.filter(number=(request.POST.get("target") or "").strip()).first()
    if target is None:
        messages.error(request, _("No incident has that number."))
    else:
        try:
            links.link_incidents(
                incident, target, kind=request.POST.get("kind", ""), actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Linked to %(number)s.") % {"number": target.number})
    return redirect(incident.get_absolute_url() + "#links")


@login_required
@_can("change_incident")
@require_POST
def link_remove(request, number: str, link_id: int):
    incident = get_object_or_404(Incident, number=number)
    link = get_object_or_404(
        Link.objects.select_related("source", "target").filter(
            Q(source=incident) | Q(target=incident)
        ),
        pk=link_id,
    )
    links.unlink(link, actor=request.user)
    messages.success(request, _("Link removed."))
    return redirect(incident.get_absolute_url() + "#links")


@login_required
@_can("view_incident")
@require_GET
def link_candidates(request, number: str):
    """The linking form's suggestions (htmx): incidents by number or title."""
    incident = get_object_or_404(Incident, number=number)
    return render(
        request,
        "incidents/partials/_link_candidates.html",
        {"candidates": links.candidates(incident, request.GET.get("target", ""))},
    )


@login_required
@_can("change_incident")
@require_POST
def merge(request, number: str):
    """Merge this duplicate into the incident it duplicates (the links panel's button)."""
    duplicate = get_object_or_404(Incident, number=number)
    into = get_object_or_404(Incident, number=request.POST.get("into", ""))
    try:
        merging.merge_incidents(duplicate, into, actor=request.user)
    except (ValidationError, workflow.TransitionError) as exc:
        messages.error(request, _error_text(exc))
        return redirect(duplicate.get_absolute_url() + "#links")
    messages.success(
        request, _("%(dup)s merged into %(into)s.") % {"dup": duplicate.number, "into": into.number}
    )
    return redirect(into.get_absolute_url() + "#links")


@login_required
@_can("change_incident")
@require_POST
def resolve_children(request, number: str):
    parent = get_object_or_404(Incident, number=number)
    try:
        done = merging.resolve_children(
            parent, actor=request.user, summary=request.POST.get("summary", "")
        )
    except (ValidationError, workflow.TransitionError) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request,
            _("Resolved: %(numbers)s.") % {"numbers": ", ".join(c.number for c in done)},
        )
    return redirect(parent.get_absolute_url() + "#links")


@login_required
@_can("change_incident")
@require_POST
def record_fix(request, number: str):
    """§8.2 修正作業: record when the root cause was removed (the "Root cause fix" panel)."""
    incident = get_object_or_404(Incident, number=number)
    at = None
    raw = (request.POST.get("at") or "").strip()
    if raw:
        parsed = parse_datetime(raw)
        if parsed is None:
            messages.error(request, _("Enter a valid date and time."))
            return redirect(incident.get_absolute_url() + "#fix")
        at = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    try:
        fix.record_fix(
            incident,
            actor=request.user,
            at=at,
            change_number=request.POST.get("change", ""),
            comment=(request.POST.get("comment") or "").strip(),
        )
    except (ValidationError, workflow.TransitionError) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("The fix is recorded."))
    return redirect(incident.get_absolute_url() + "#fix")


@login_required
@_can("change_incident")
@require_POST
def hold_start(request, number: str):
    """Issue 18: pause the resolution clock from the incident page (``holds.put_on_hold``)."""

    incident = get_object_or_404(Incident, number=number)
    raw = (request.POST.get("until") or "").strip()
    until = parse_datetime(raw) if raw else None
    if until is not None and timezone.is_naive(until):
        until = timezone.make_aware(until)
    try:
        if raw and until is None:
            raise ValidationError({"until": _("Enter a valid date and time.")})
        holds.put_on_hold(
            incident,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            until=until,
            comment=request.POST.get("comment", ""),
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("On hold: the resolution clock is paused."))
    return redirect(incident.get_absolute_url() + "#sla")


@login_required
@_can("change_incident")
@require_POST
def hold_end(request, number: str):
    incident = get_object_or_404(Incident, number=number)
    try:
        holds.end_hold(incident, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Resumed: the resolution clock runs again."))
    return redirect(incident.get_absolute_url() + "#sla")
