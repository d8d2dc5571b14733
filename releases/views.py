"""Release screens: list, calendar of slots and releases, detail with the pipeline, create."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from itsm.core import workflow
from itsm.core.business_calendar import current_calendar
from itsm.core.forms import add_service_errors
from itsm.core.models import Service

from . import selectors, services
from .choices import STRATEGY_COMPARISON, ReleaseType
from .forms import CausingDeploymentForm, DeploymentForm, ReleaseForm
from .models import DeploymentIncident, Release, ReleaseCadence


@login_required
@permission_required("releases.view_release", raise_exception=True)
def release_list(request):
    filters = {
        "state": request.GET.get("state", "")
        if request.GET.get("state") in Release.State.values
        else "",
        "release_type": request.GET.get("type", "")
        if request.GET.get("type") in ReleaseType.values
        else "",
        "service": request.GET.get("service", "")[:100],
        "q": request.GET.get("q", "").strip()[:100],
    }
    page = Paginator(selectors.release_list(**filters), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "releases/release_list.html",
        {
            "page": page,
            "filters": filters,
            "states": Release.State.choices,
            "types": ReleaseType.choices,
            "services": Service.objects.filter(is_active=True),
            "upcoming": selectors.upcoming_slots()[:8],
        },
    )


def _month(value: str) -> dt.date:
    try:
        year, month = (int(x) for x in value.split("-"))
        return dt.date(year, month, 1)
    except (ValueError, TypeError):
        today = timezone.localdate()
        return today.replace(day=1)


def _covering(windows: list, day: dt.date, tz) -> list:
    """The windows that cover any part of ``day`` (local time)."""
    day_start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    day_end = day_start + dt.timedelta(days=1)
    return [w for w in windows if w.starts_at < day_end and w.ends_at > day_start]


@login_required
@permission_required("releases.view_release", raise_exception=True)
def release_calendar(request):
    """Month view of the planned release slots (§10.2), the releases planned in them and the
    change calendar's freeze windows."""
    first = _month(request.GET.get("month", ""))
    if not 2000 <= first.year <= 2100:
        first = timezone.localdate().replace(day=1)
    tz = timezone.get_current_timezone()
    grid = pycalendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    start = dt.datetime.combine(grid[0][0], dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(grid[-1][-1] + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    slots, releases = selectors.calendar_items(start, end)
    freezes = list(selectors.freeze_windows(start, end))
    by_day: dict[dt.date, dict] = {}
    for slot in slots:
        by_day.setdefault(
            timezone.localtime(slot.starts_at, tz).date(), {"slots": [], "releases": []}
        )["slots"].append(slot)
    for release in releases:
        by_day.setdefault(
            timezone.localtime(release.planned_at, tz).date(), {"slots": [], "releases": []}
        )["releases"].append(release)
    cal = current_calendar()
    today = timezone.localdate()
    weeks = [
        [
            {
                "date": day,
                "in_month": day.month == first.month,
                "today": day == today,
                "holiday": cal.holiday_name(day),
                "freezes": _covering(freezes, day, tz),
                **by_day.get(day, {"slots": [], "releases": []}),
            }
            for day in week
        ]
        for week in grid
    ]
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return render(
        request,
        "releases/release_calendar.html",
        {
            "first": first,
            "weeks": weeks,
            "previous": previous.strftime("%Y-%m"),
            "following": following.strftime("%Y-%m"),
            "cadences": ReleaseCadence.objects.all(),
            "freezes": freezes,
            "weekdays": [pycalendar.day_abbr[i] for i in range(7)],
        },
    )


@login_required
@permission_required("releases.view_release", raise_exception=True)
def release_detail(request, number: str):
    release = get_object_or_404(selectors.release_detail(number))
    can_report = request.user.has_perm("releases.add_deployment")
    deployments_exist = bool(release.deployments.all())
    return render(
        request,
        "releases/release_detail.html",
        {
            "release": release,
            "stages": selectors.pipeline(release),
            "deployments": release.deployments.all(),
            "changes": release.changes.all(),
            "authorising": {change.pk for change in release.authorising_changes()},
            "production_gate": release.production_decision()
            if release.state in (Release.State.STAGING, Release.State.CANARY)
            else None,
            "deployment_form": DeploymentForm(release=release) if can_report else None,
            "incident_links": selectors.release_incident_links(release),
            "incident_form": CausingDeploymentForm(release=release)
            if request.user.has_perm("releases.add_deploymentincident") and deployments_exist
            else None,
            "strategies": STRATEGY_COMPARISON,
        },
    )


@login_required
@permission_required("releases.add_release", raise_exception=True)
def release_create(request):
    initial = {}
    slot_id = request.GET.get("slot", "")
    if slot_id.isdigit():
        initial["slot"] = int(slot_id)
        slot = selectors.upcoming_slots().filter(pk=int(slot_id)).first()
        if slot is not None:
            initial["release_type"] = slot.release_type
    form = ReleaseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            release = services.create_release(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("%(record)s created.") % {"record": release.number})
            return redirect(release)
    return render(
        request,
        "releases/release_form.html",
        {"form": form, "strategies": STRATEGY_COMPARISON, "cadences": ReleaseCadence.objects.all()},
    )


@login_required
@permission_required("releases.add_deployment", raise_exception=True)
@require_POST
def deployment_create(request, number: str):
    release = get_object_or_404(Release, number=number)
    form = DeploymentForm(request.POST, release=release)
    if not form.is_valid():
        details = "; ".join(
            f"{form.fields[f].label if f in form.fields else f}: {' '.join(e)}"
            for f, e in form.errors.items()
        )
        messages.error(
            request, _("The deployment was not recorded: %(details)s") % {"details": details}
        )
        return redirect(release)
    data = form.cleaned_data
    try:
        outcome = services.record_deployment(
            release=release,
            environment=data["environment"],
            version=data["version"],
            result=data["result"],
            external_url=data["external_url"],
            notes=data["notes"],
            advance=data["advance"],
            actor=request.user,
        )
    except (workflow.TransitionError, ValidationError) as exc:
        message = getattr(exc, "message", None) or "; ".join(exc.messages)
        messages.error(
            request, _("The deployment was not recorded: %(details)s") % {"details": message}
        )
        return redirect(release)
    messages.success(request, _("Deployment recorded."))
    if outcome.refusal is not None:
        messages.warning(
            request,
            _("The release stays where it is: %(reason)s") % {"reason": outcome.refusal.message},
        )
    return redirect(reverse("releases:detail", args=[release.number]) + "#pipeline")


@login_required
@permission_required("releases.add_deploymentincident", raise_exception=True)
@require_POST
def causing_deployment_link(request, number: str):
    """Record that one of this release's deployments caused an incident."""
    release = get_object_or_404(Release, number=number)
    form = CausingDeploymentForm(request.POST, release=release)
    if not form.is_valid():
        details = "; ".join(
            f"{form.fields[f].label if f in form.fields else f}: {' '.join(e)}"
            for f, e in form.errors.items()
        )
        messages.error(
            request, _("The incident was not linked: %(details)s") % {"details": details}
        )
    else:
        link, created = services.link_causing_deployment(
            form.cleaned_data["deployment"],
            incident=form.cleaned_data["incident"],
            note=form.cleaned_data["note"],
            actor=request.user,
        )
        if created:
            messages.success(
                request,
                _("%(incident)s is recorded as caused by deployment #%(id)s.")
                % {"incident": link.incident.number, "id": link.deployment_id},
            )
        else:
            messages.info(request, _("This incident was already linked to that deployment."))
    return redirect(reverse("releases:detail", args=[release.number]) + "#incident-links")


@login_required
@permission_required("releases.delete_deploymentincident", raise_exception=True)
@require_POST
def causing_deployment_unlink(request, number: str, pk: int):
    link = get_object_or_404(
        DeploymentIncident.objects.select_related("deployment__release", "incident"),
        pk=pk,
        deployment__release__number=number,
    )
    services.unlink_causing_deployment(link, actor=request.user)
    messages.success(request, _("Link removed."))
    return redirect(reverse("releases:detail", args=[number]) + "#incident-links")
