"""On-call screens: the schedules with who is on call now, a schedule's next two weeks as a
timeline (overrides highlighted, gaps in red) with its rotations and overrides editable by team
leads, "my shifts" with the personal iCalendar feed and its revocable key."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from itsm.core.forms import add_service_errors
from itsm.core.models import Team

from . import ical, selectors, services
from .forms import LayerForm, OverrideForm
from .models import Layer, Override, Schedule
from .rotation import final_shifts

TIMELINE_DAYS = 14
MY_SHIFTS_DAYS = 28


@login_required
@permission_required("oncall.view_schedule", raise_exception=True)
@require_GET
def schedule_list(request):
    now = timezone.now()
    teams = list(Team.objects.filter(schedules__isnull=False).distinct().order_by("name"))
    levels = selectors.teams_on_call(teams, now)
    return render(
        request,
        "oncall/schedule_list.html",
        {"rows": [(team, levels[team.pk]) for team in teams], "now": now},
    )


def _timeline(schedule: Schedule, shifts, start: datetime) -> list[dict]:
    """One row per local day: the day's pieces as percentages of 24 hours."""
    zone = schedule.zone
    days = []
    for n in range(TIMELINE_DAYS):
        day = (start + timedelta(days=n)).date()
        begins = datetime.combine(day, time(0), tzinfo=zone)
        ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        length = (ends - begins).total_seconds()
        pieces = []
        for s in shifts:
            a, b = max(s.start, begins), min(s.end, ends)
            if a < b:
                pieces.append(
                    {
                        "shift": s,
                        "start": a,
                        "end": b,
                        "left": round((a - begins).total_seconds() / length * 100, 3),
                        "width": round((b - a).total_seconds() / length * 100, 3),
                    }
                )
        days.append({"date": day, "pieces": pieces})
    return days


def _detail(request, schedule: Schedule, *, layer_form=None, override_form=None, status=200):
    zone = schedule.zone
    today = timezone.now().astimezone(zone).date()
    start = datetime.combine(today, time(0), tzinfo=zone)
    end = start + timedelta(days=TIMELINE_DAYS)
    [loaded] = selectors.load([schedule], start=start, end=end)
    shifts = final_shifts(loaded, start, end)
    can_edit = request.user.has_perm("oncall.change_schedule")
    layers = loaded.loaded_layers
    return render(
        request,
        "oncall/schedule_detail.html",
        {
            "schedule": loaded,
            "days": _timeline(loaded, shifts, start),
            "shifts": shifts,
            "now": selectors.on_call(schedule, timezone.now()),
            "layers": [
                (layer, LayerForm(instance=layer, prefix=f"l{layer.pk}")) for layer in layers
            ]
            if can_edit
            else [(layer, None) for layer in layers],
            "layer_form": layer_form or LayerForm(prefix="new", initial={"start_date": today}),
            "override_form": override_form or OverrideForm(),
            "overrides": Override.objects.filter(schedule=schedule, end__gt=timezone.now())
            .select_related("user", "replaces")
            .order_by("start"),
            "can_edit": can_edit,
            "can_override": request.user.has_perm("oncall.add_override"),
        },
        status=status,
    )


@login_required
@permission_required("oncall.view_schedule", raise_exception=True)
@require_GET
def schedule_detail(request, slug: str):
    return _detail(request, get_object_or_404(Schedule, slug=slug))


@login_required
@permission_required("oncall.change_schedule", raise_exception=True)
@require_POST
def layer_save(request, slug: str, layer_id: int | None = None):
    """Add a rotation (``layer_id`` None) or change one."""
    schedule = get_object_or_404(Schedule, slug=slug)
    layer = get_object_or_404(Layer, pk=layer_id, schedule=schedule) if layer_id else None
    form = LayerForm(request.POST, instance=layer, prefix=f"l{layer_id}" if layer else "new")
    if form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            services.save_layer(
                actor=request.user,
                schedule=schedule,
                layer=layer,
                members=form.people(),
                **fields,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, _("The rotation %(name)s was saved.") % {"name": fields["name"]}
            )
            return redirect(schedule.get_absolute_url())
    return _detail(request, schedule, layer_form=form, status=400)


@login_required
@permission_required("oncall.change_schedule", raise_exception=True)
@require_POST
def layer_delete(request, slug: str, layer_id: int):
    schedule = get_object_or_404(Schedule, slug=slug)
    services.delete_layer(
        get_object_or_404(Layer, pk=layer_id, schedule=schedule), actor=request.user
    )
    messages.success(request, _("The rotation was deleted."))
    return redirect(schedule.get_absolute_url())


@login_required
@permission_required("oncall.add_override", raise_exception=True)
@require_POST
def override_add(request, slug: str):
    schedule = get_object_or_404(Schedule, slug=slug)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.add_override(actor=request.user, schedule=schedule, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The override was added."))
            return redirect(schedule.get_absolute_url())
    return _detail(request, schedule, override_form=form, status=400)


@login_required
@permission_required("oncall.delete_override", raise_exception=True)
@require_POST
def override_delete(request, slug: str, override_id: int):
    schedule = get_object_or_404(Schedule, slug=slug)
    override = get_object_or_404(Override, pk=override_id, schedule=schedule)
    services.delete_override(override, actor=request.user)
    messages.success(request, _("The override was removed."))
    return redirect(schedule.get_absolute_url())


# ---------------------------------------------------------------------------- my shifts


@login_required
def my_shifts(request):
    """My shifts of the next four weeks, and the key of my personal calendar feed."""
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.revoke_feed_keys(request.user)
            messages.success(request, _("Your calendar feed link no longer works."))
        else:
            new_key = services.issue_feed_key(request.user)
    now = timezone.now()
    shifts = selectors.shifts_for_user(request.user, now, now + timedelta(days=MY_SHIFTS_DAYS))
    feed = (
        request.build_absolute_uri(f"{reverse('oncall:my_shifts_feed')}?key={new_key}")
        if new_key
        else None
    )
    return render(
        request,
        "oncall/my_shifts.html",
        {
            "shifts": shifts,
            "feed_url": feed,
            "has_key": request.user.oncall_feed_keys.filter(revoked_at__isnull=True).exists(),
        },
    )


@require_GET
def my_shifts_feed(request):
    """The personal iCalendar feed: no session, the revocable key in the URL."""
    user = services.user_for_feed_key(request.GET.get("key", ""))
    if user is None:
        raise Http404(_("Unknown or revoked calendar key."))
    now = timezone.now()
    shifts = selectors.shifts_for_user(user, now - timedelta(days=7), now + timedelta(days=90))
    response = HttpResponse(
        ical.shifts_calendar(user, shifts), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="my-shifts.ics"'
    return response
