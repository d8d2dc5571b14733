"""Screens of escalation (seed §8.4): manual escalation and the escalation policies page.

The incident page shows the escalation panel through ``{% escalation_panel %}``
(incidents/templatetags/escalation.py); policies are edited in the admin.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from itsm.core import workflow

from . import escalation
from .models import EscalationPolicy, Incident


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
        "levels__target_team"
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
