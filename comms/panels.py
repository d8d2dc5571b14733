"""The communication panel of the incident page (registered with ``incidents.panels`` by
``CommsConfig.ready``): roles, the next update's countdown, the stakeholder updates with the
form to post one (templates prefilled), the status page setting and the subscribers."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q

from incidents.panels import Panel
from itsm.core.models import Team
from itsm.core.roles import ops_rank

from . import cadence, services
from .choices import Audience, ServiceStatus, UpdateStatus
from .models import IncidentComms, StatusPageService, Subscription


def comms_context(request, incident) -> dict | None:
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("comms.view_incidentcomms"):
        return None
    comms = (
        IncidentComms.objects.select_related("commander", "comms_lead")
        .filter(incident=incident)
        .first()
    )
    rows = list(
        Subscription.objects.filter(
            Q(incident=incident) | Q(service_id=incident.service_id, public=False)
        ).select_related("user", "team")
    )
    subscriptions = [s for s in rows if s.incident_id == incident.pk]
    service_subscribers = len(rows) - len(subscriptions)
    can_work = user.has_perm("comms.change_incidentcomms")
    can_post = user.has_perm("comms.add_stakeholderupdate")
    due = cadence.update_due(incident, comms)
    templates = list(services.templates_for(incident)) if can_post else []
    values = services.template_values(incident, due) if templates else {}
    return {
        "comms": comms,
        "responders": list(comms.responders.all()) if comms else [],
        "due": due,
        "updates": list(incident.stakeholder_updates.select_related("posted_by")[:20]),
        "subscriptions": subscriptions,
        "subscribed": any(s.user_id == user.pk for s in subscriptions),
        "service_subscribers": service_subscribers,
        "can_post": can_post,
        "can_assign": can_work,
        "can_command": can_work and (comms is None or services.may_command(user, comms)),
        "can_set_status": can_work
        and ((comms is not None and comms.commander_id == user.pk) or ops_rank(user) >= 2),
        "can_add_subscribers": user.has_perm("comms.add_subscription"),
        "statuses": UpdateStatus.choices,
        "audiences": Audience.choices,
        "service_statuses": ServiceStatus.choices,
        "people": list(get_user_model().objects.filter(is_active=True).order_by("username"))
        if can_work
        else [],
        "teams": list(Team.objects.order_by("name")) if can_work else [],
        "templates": [
            {"template": t, "filled": services.prefill(t, incident, values)} for t in templates
        ],
        "public_service": StatusPageService.objects.filter(
            service_id=incident.service_id, public=True
        ).exists(),
    }


COMMS_PANEL = Panel("comms", "comms/partials/_panel.html", comms_context, order=5)
