"""Communication screens for staff: the incident page's actions (roles, updates, the status page
setting, subscribers) and the internal status page at ``/status/``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from incidents.models import Incident
from itsm.core.forms import add_service_errors

from . import selectors, services
from .forms import PublicStatusForm, RolesForm, SubscriberForm, UpdateForm
from .models import Subscription, UpdateTemplate


def _incident(number: str) -> Incident:
    return get_object_or_404(Incident.objects.select_related("service"), number=number)


def _back(incident: Incident):
    return redirect(incident.get_absolute_url() + "#comms")


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(m for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(exc.messages)


@login_required
@permission_required("comms.add_stakeholderupdate", raise_exception=True)
def post_update(request, number: str):
    """GET: the update form (``?template=<id>`` prefilled); POST: post it. A refused update
    comes back with what was written and why."""
    incident = _incident(number)
    if request.method == "POST":
        form = UpdateForm(request.POST)
        if form.is_valid():
            try:
                services.post_update(incident, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Update posted; subscribers are being told."))
                return _back(incident)
    else:
        template = UpdateTemplate.objects.filter(pk=request.GET.get("template") or 0).first()
        initial = services.prefill(template, incident) if template else {}
        form = UpdateForm(initial=initial)
    return render(
        request,
        "comms/update_form.html",
        {"incident": incident, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("comms.change_incidentcomms", raise_exception=True)
@require_POST
def assign_roles(request, number: str):
    incident = _incident(number)
    form = RolesForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(ValidationError(form.errors)))
        return _back(incident)
    data = form.cleaned_data
    try:
        services.assign_roles(
            incident,
            actor=request.user,
            commander=data["commander"],
            comms_lead=data["comms_lead"],
            responders=list(data["responders"]),
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Roles saved."))
    return _back(incident)


@login_required
@permission_required("comms.change_incidentcomms", raise_exception=True)
@require_POST
def take_command(request, number: str):
    incident = _incident(number)
    try:
        services.assign_roles(incident, actor=request.user, commander=request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("You are the incident commander."))
    return _back(incident)


@login_required
@permission_required("comms.change_incidentcomms", raise_exception=True)
@require_POST
def set_public_status(request, number: str):
    incident = _incident(number)
    form = PublicStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(ValidationError(form.errors)))
        return _back(incident)
    try:
        services.set_public_status(incident, actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Status page setting saved."))
    return _back(incident)


@login_required
@permission_required("comms.view_subscription", raise_exception=True)
@require_POST
def add_subscriber(request, number: str):
    """Subscribe someone (or, with ``me``, yourself) to the incident's updates."""
    incident = _incident(number)
    if request.POST.get("me"):
        data = {"user": request.user}
    else:
        form = SubscriberForm(request.POST)
        if not form.is_valid():
            messages.error(request, _errors(ValidationError(form.errors)))
            return _back(incident)
        data = {k: v for k, v in form.cleaned_data.items() if v}
    try:
        sub = services.subscribe(actor=request.user, incident=incident, **data)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(who)s will receive the updates.") % {"who": sub.subscriber})
    return _back(incident)


@login_required
@permission_required("comms.view_subscription", raise_exception=True)
@require_POST
def remove_subscriber(request, number: str, pk: int):
    incident = _incident(number)
    sub = get_object_or_404(Subscription, pk=pk, incident=incident)
    try:
        services.unsubscribe(sub, actor=request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(who)s removed.") % {"who": sub.subscriber})
    return _back(incident)


@login_required
@permission_required("comms.view_stakeholderupdate", raise_exception=True)
@require_GET
def status_internal(request):
    """Every active service's status, the open incidents with all their updates (internal and
    public), and the maintenance windows, for signed-in staff."""
    page = selectors.status_page(public=False)
    return render(request, "comms/status_internal.html", {"page": page})
