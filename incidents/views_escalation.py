"""Screens of escalation (seed §8.4): manual escalation, acknowledging pages (one click on the
incident or in the bell, or a signed link without a session) and the escalation policies page.

The incident page shows the escalation panel through ``{% escalation_panel %}``
(incidents/templatetags/escalation.py); policies are edited in the admin.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from itsm.core import workflow

from . import acknowledgement, escalation, paging
from .models import AckChannel, EscalationPolicy, Incident


@login_required
@permission_required("incidents.change_incident", raise_exception=True)
@require_POST
def escalate(request, number: str):
    incident = get_object_or_404(Incident, number=number)
    level = request.POST.get("level") or None
    try:
        escalation.escalate_incident(
            incident,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            comment=request.POST.get("comment", ""),
            level=level,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(m for msgs in exc.message_dict.values() for m in msgs))
    except workflow.TransitionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(number)s escalated to %(level)s.")
            % {
                "number": incident.number,
                "level": escalation.level_label(incident.escalation_level),
            },
        )
    return redirect(incident.get_absolute_url() + "#escalation")


@login_required
@require_GET
def policy_list(request):
    """Every escalation policy with its ladder; readable by everyone signed in (§8.4)."""
    policies = EscalationPolicy.objects.select_related("service").prefetch_related(
        "levels__target_team", "levels__target_schedule", "levels__target_user"
    )
    return render(
        request,
        "incidents/escalation_policies.html",
        {
            "policies": policies,
            "can_edit": request.user.has_perm("incidents.change_escalationpolicy")
            and request.user.is_staff,
            "sweep_interval": escalation.sweep_interval(),
            "business_priorities": escalation.business_clock_priorities(),
        },
    )


@login_required
@require_POST
def acknowledge(request, number: str):
    """One click: from the incident page, or from the bell (``via=notification``)."""
    incident = get_object_or_404(Incident, number=number)
    via = AckChannel.NOTIFICATION if request.POST.get("via") == "notification" else AckChannel.WEB
    try:
        pages = acknowledgement.acknowledge_incident(incident, actor=request.user, via=via)
    except workflow.TransitionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(number)s acknowledged; %(count)s page(s) stopped.")
            % {"number": incident.number, "count": len(pages)},
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = incident.get_absolute_url()
    return redirect(target)


@require_http_methods(["GET", "POST"])
def ack_link(request, token: str):
    """The signed one-time link of a notification: works without a session. GET asks (mail
    scanners open links), POST acknowledges; a refused link says why with its status."""
    try:
        page = paging.page_for_link(token, session_user=request.user)
    except paging.LinkRefused as exc:
        return render(request, "incidents/ack_link.html", {"error": exc.message}, status=exc.status)
    if request.method == "POST":
        try:
            page = acknowledgement.acknowledge_by_link(token, session_user=request.user)
        except paging.LinkRefused as exc:
            return render(
                request, "incidents/ack_link.html", {"error": exc.message}, status=exc.status
            )
        return render(request, "incidents/ack_link.html", {"page": page, "done": True})
    return render(request, "incidents/ack_link.html", {"page": page})
