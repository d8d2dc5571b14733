"""Change management screens (thin: reads from selectors, writes through services)."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from itsm.core.business_calendar import current_calendar
from itsm.core.roles import Role, has_role
from itsm.core.workflow import TransitionError

from . import ical, selectors, services
from .filters import ChangeRequestFilter
from .forms import (
    ChangeRequestForm,
    DecisionForm,
    FromTemplateForm,
    PostImplementationReviewForm,
    VerificationForm,
    VoteForm,
    WorkLogForm,
)
from .models import ChangeClass, ChangeRequest, FreezeWindow

VIEW = "changes.view_changerequest"
ADD = "changes.add_changerequest"


def _error(request, exc: TransitionError) -> None:
    errors = exc.extra.get("errors") or {}
    details = "; ".join(e["message"] for items in errors.values() for e in items)
    messages.error(request, f"{exc.message} {details}".strip())


def _get(number: str) -> ChangeRequest:
    return get_object_or_404(selectors.change_detail(), number=number)


@login_required
@permission_required(VIEW, raise_exception=True)
def change_list(request):
    filterset = ChangeRequestFilter(request.GET or None, queryset=selectors.change_list())
    for field in filterset.form.fields.values():
        field.widget.attrs.setdefault("class", "form-select form-select-sm")
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
    if filterset.is_bound and not filterset.is_valid():
        queryset = queryset.none()
    page = Paginator(queryset.order_by("-id"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "changes/change_list.html",
        {"filter": filterset, "page": page, "query": query.urlencode()},
    )


def _lead_time_hints():
    now = timezone.now()
    return [
        (cls, timezone.localtime(cls.earliest_start(now)))
        for cls in ChangeClass.objects.exclude(requires_template=True)
    ]


@login_required
@permission_required(ADD, raise_exception=True)
def change_create(request):
    form = ChangeRequestForm(request.POST or None)
    template_form = FromTemplateForm(prefix="tpl")
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        service_list = data.pop("services")
        try:
            change = services.create_change(actor=request.user, services=service_list, **data)
        except TransitionError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("%(number)s created as a draft.") % {"number": change})
            return redirect(change)
    return render(
        request,
        "changes/change_form.html",
        {"form": form, "template_form": template_form, "hints": _lead_time_hints()},
    )


@login_required
@permission_required(ADD, raise_exception=True)
@require_POST
def change_from_template(request):
    template_form = FromTemplateForm(request.POST, prefix="tpl")
    if template_form.is_valid():
        data = dict(template_form.cleaned_data)
        template = data.pop("template")
        try:
            change = services.create_from_template(template, actor=request.user, **data)
        except TransitionError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("%(number)s created as a draft.") % {"number": change})
            return redirect(change)
    return render(
        request,
        "changes/change_form.html",
        {
            "form": ChangeRequestForm(),
            "template_form": template_form,
            "hints": _lead_time_hints(),
        },
        status=400,
    )


@login_required
@permission_required("changes.change_changerequest", raise_exception=True)
def change_edit(request, number: str):
    change = _get(number)
    if not change.is_editable:
        messages.error(request, _("Only a draft can be edited."))
        return redirect(change)
    if change.requester_id != request.user.pk and not has_role(request.user, Role.OPS_LEADER):
        raise PermissionDenied
    form = ChangeRequestForm(
        request.POST or None,
        instance=change,
        initial={"services": list(change.services.all())},
    )
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.Meta.fields}
        service_list = data.pop("services")
        change = ChangeRequest.objects.get(pk=change.pk)
        try:
            services.update_change(change, actor=request.user, services=service_list, **data)
        except TransitionError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect(change)
    return render(
        request,
        "changes/change_form.html",
        {"form": form, "change": change, "hints": _lead_time_hints()},
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def change_detail(request, number: str):
    change = _get(number)
    tally = services.cab_board(change)
    my_vote = next((v for v in change.votes.all() if v.member_id == request.user.pk), None)
    return render(
        request,
        "changes/change_detail.html",
        {
            "change": change,
            "tally": tally,
            "my_vote": my_vote,
            "vote_form": VoteForm(initial={"vote": my_vote.vote} if my_vote else None),
            "may_vote": change.state == "cab_review"
            and services.cab_members().filter(pk=request.user.pk).exists()
            and change.requester_id != request.user.pk,
            "may_decide": services.may_decide(change, request.user),
            "work_log_form": WorkLogForm(),
            "may_log_work": change.state in services.WORK_LOG_STATES,
            "verification_form": VerificationForm() if change.state == "verifying" else None,
            "freeze_conflicts": list(change.freeze_conflicts()),
            "schedule_conflicts": list(change.schedule_conflicts()),
            "earliest_start": change.earliest_start() if change.change_class_id else None,
            "is_failed": services.is_failed(change),
            "caused_incident": services.caused_incident(change),
            "may_open_incident": request.user.has_perm("incidents.add_incident"),
            "may_review": services.may_review_after_the_fact(change, request.user),
            "review_form": PostImplementationReviewForm(
                initial={"review": change.post_implementation_review}
            ),
        },
    )


def _back(request, change):
    nxt = request.POST.get("next", "")
    if nxt.startswith("/") and not nxt.startswith("//"):
        return HttpResponseRedirect(nxt)
    return redirect(change)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def decide(request, number: str):
    change = get_object_or_404(ChangeRequest, number=number)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return _back(request, change)
    try:
        services.decide_change(
            change,
            actor=request.user,
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )
    except TransitionError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("%(number)s: %(decision)s.")
            % {"number": change, "decision": change.get_state_display()},
        )
    return _back(request, change)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def vote(request, number: str):
    change = get_object_or_404(ChangeRequest, number=number)
    form = VoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return _back(request, change)
    try:
        services.cast_cab_vote(change, member=request.user, **form.cleaned_data)
    except TransitionError as exc:
        _error(request, exc)
    else:
        messages.success(request, services.vote_message(change))
    return _back(request, change)


@login_required
@permission_required("changes.add_worklogentry", raise_exception=True)
@require_POST
def work_log(request, number: str):
    change = get_object_or_404(ChangeRequest, number=number)
    form = WorkLogForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write what was done."))
        return redirect(change)
    try:
        services.log_work(change, actor=request.user, text=form.cleaned_data["text"])
    except TransitionError as exc:
        _error(request, exc)
    return redirect(change)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def verify(request, number: str):
    change = get_object_or_404(ChangeRequest, number=number)
    form = VerificationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please correct the errors below."))
        return redirect(change)
    try:
        services.verify_change(
            change, actor=request.user, checks=form.checks(), notes=form.cleaned_data["notes"]
        )
    except TransitionError as exc:
        _error(request, exc)
    else:
        if change.verification_result == "failed":
            messages.warning(
                request, _("A rollback criterion is met: roll the change back (§9.5).")
            )
        else:
            messages.success(request, _("Verification passed; the change can be closed."))
    return redirect(change)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def post_implementation_review(request, number: str):
    change = get_object_or_404(ChangeRequest, number=number)
    form = PostImplementationReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return redirect(change)
    try:
        services.record_post_implementation_review(
            change, actor=request.user, review=form.cleaned_data["review"]
        )
    except TransitionError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("The post-implementation review is recorded."))
    return redirect(change)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def open_incident(request, number: str):
    """One click on a failed change: open (or show the already opened) caused-by incident."""
    change = get_object_or_404(ChangeRequest, number=number)
    try:
        incident, created = services.open_incident_for_failed_change(change, actor=request.user)
    except TransitionError as exc:
        _error(request, exc)
        return redirect(change)
    if created:
        messages.success(
            request,
            _("%(incident)s opened for the failed change %(change)s; triage it next.")
            % {"incident": incident.number, "change": change.number},
        )
    else:
        messages.info(
            request,
            _("%(incident)s was already opened for %(change)s.")
            % {"incident": incident.number, "change": change.number},
        )
    return redirect(incident)


@login_required
@permission_required(VIEW, raise_exception=True)
def approvals(request):
    """What awaits my decision (reviews, CAB votes) and the CAB agenda with votes so far."""
    members = list(services.cab_members())
    agenda = [(c, services.cab_tally(c, members)) for c in selectors.cab_agenda()]
    decided = [(c, services.cab_tally(c, members)) for c in selectors.cab_decided()[:10]]
    return render(
        request,
        "changes/approvals.html",
        {
            "pending": selectors.awaiting_decision(request.user),
            "reviews_pending": selectors.reviews_pending(request.user)[:50],
            "agenda": agenda,
            "decided": decided,
            "agenda_rule": next((t.rule_text for _c, t in agenda + decided), ""),
            "members": members,
            "is_cab_member": any(m.pk == request.user.pk for m in members),
        },
    )


def _feed_url(request) -> str:
    feed = request.build_absolute_uri(reverse("api:changes-calendar-ics"))
    return f"{feed}?user={request.user.username}&key={ical.feed_key(request.user)}"


@login_required
@permission_required(VIEW, raise_exception=True)
def calendar(request):
    """The change calendar: a month (default) or, with ``?view=week&date=YYYY-MM-DD``, the week
    containing that day — changes, registered entries (releases), freeze windows, conflicts."""
    if request.GET.get("view") == "week":
        return _week(request)
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year", today.year))
        month = int(request.GET.get("month", today.month))
        first = date(year, month, 1)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 2000 <= year <= 2100:
        raise Http404
    weeks, conflicts = selectors.month_grid(year, month, current_calendar())
    previous = date(year - (month == 1), (month - 2) % 12 + 1, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return render(
        request,
        "changes/calendar.html",
        {
            "view": "month",
            "weeks": weeks,
            "conflicts": conflicts,
            "first": first,
            "previous": previous,
            "following": following,
            "week_of": first if (today.year, today.month) != (year, month) else today,
            "freezes": _upcoming_freezes(),
            "feed_url": _feed_url(request),
        },
    )


def _upcoming_freezes():
    return FreezeWindow.objects.filter(ends_at__gte=timezone.now()).prefetch_related("services")[
        :20
    ]


def _week(request):
    raw = request.GET.get("date") or timezone.localdate().isoformat()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise Http404 from None
    if not 2000 <= day.year <= 2100:
        raise Http404
    days, conflicts = selectors.week_days(day, current_calendar())
    return render(
        request,
        "changes/calendar.html",
        {
            "view": "week",
            "days": days,
            "conflicts": conflicts,
            "first": days[0].day,
            "last": days[-1].day,
            "previous": days[0].day - timedelta(days=7),
            "following": days[0].day + timedelta(days=7),
            "freezes": _upcoming_freezes(),
            "feed_url": _feed_url(request),
        },
    )
