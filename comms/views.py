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


def _act(request, incident: Incident, action, success):
    """Run a use case for the incident page: its refusal (field messages or permission) or
    ``success(result)`` as a message, then back to the panel."""
    try:
        result = action()
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success(result))
    return _back(incident)


def _form_data(request, form_class) -> dict | None:
    form = form_class(request.POST)
    if form.is_valid():
        return form.cleaned_data
    messages.error(request, _errors(ValidationError(form.errors)))
    return None


@login_required
@permission_required("comms.change_incidentcomms", raise_exception=True)
@require_POST
def assign_roles(request, number: str):
    incident = _incident(number)
    data = _form_data(request, RolesForm)
    if data is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: services.assign_roles(
            incident,
            actor=request.user,
            commander=data["commander"],
            comms_lead=data["comms_lead"],
            responders=list(data["responders"]),
        ),
        lambda _comms: _("Roles saved."),
    )


@login_required
@permission_required("comms.change_incidentcomms", raise_exception=True)
@require_POST
def take_command(request, number: str):
    incident = _incident(number)
    return _act(
        request,
        incident,
        lambda: services.assign_roles(incident, actor=request.user, commander=request.user),
        lambda _comms: _("You are the incident commander."),
    )


@login_required
@permission_required("comms.change_incidentcomms", raise_exception=True)
@require_POST
def set_public_status(request, number: str):
    incident = _incident(number)
    data = _form_data(request, PublicStatusForm)
    if data is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: services.set_public_status(incident, actor=request.user, **data),
        lambda _comms: _("Status page setting saved."),
    )


@login_required
@permission_required("comms.view_subscription", raise_exception=True)
@require_POST
def add_subscriber(request, number: str):
    """Subscribe someone (or, with ``me``, yourself) to the incident's updates."""
    incident = _incident(number)
    if request.POST.get("me"):
        data = {"user": request.user}
    else:
        data = _form_data(request, SubscriberForm)
        if data is None:
            return _back(incident)
        data = {k: v for k, v in data.items() if v}
    return _act(
        request,
        incident,
        lambda: services.subscribe(actor=request.user, incident=incident, **data),
        lambda sub: _("%(who)s will receive the updates.") % {"who": sub.subscriber},
    )


@login_required
@permission_required("comms.view_subscription", raise_exception=True)
@require_POST
def remove_subscriber(request, number: str, pk: int):
    incident = _incident(number)
    sub = get_object_or_404(Subscription, pk=pk, incident=incident)
    return _act(
        request,
        incident,
        lambda: services.unsubscribe(sub, actor=request.user),
        lambda _none: _("%(who)s removed.") % {"who": sub.subscriber},
    )


@login_required
@permission_required("comms.view_stakeholderupdate", raise_exception=True)
@require_GET
def status_internal(request):
    """Every active service's status, the open incidents with all their updates (internal and
    public), and the maintenance windows, for signed-in staff."""
    page = selectors.status_page(public=False)
    return render(request, "comms/status_internal.html", {"page": page})
