"""``{% escalation_panel incident %}`` and ``{{ incident|level_badge }}``: the escalation state on
the incident pages without each view computing it."""

from django import template

from .. import acknowledgement, escalation
from ..models import MANUAL_REASONS, IncidentEscalation, level_label

register = template.Library()


def _clock_of(incident):
    """The incident's clock, read once per page however many tags ask."""
    if not hasattr(incident, "_page_clock"):
        incident._page_clock = IncidentEscalation.objects.filter(incident=incident).first()
    return incident._page_clock


@register.inclusion_tag("incidents/partials/_escalation.html", takes_context=True)
def escalation_panel(context, incident):
    request = context.get("request")
    user = getattr(request, "user", None)
    clock = _clock_of(incident)
    pages = list(incident.pages.select_related("user", "acknowledged_by"))
    levels = escalation.manual_levels(incident, user, clock) if user and clock else []
    return {
        "incident": incident,
        "clock": clock,
        "level_label": level_label(incident.escalation_level),
        "next": escalation.next_step(incident, clock) if clock else None,
        "steps": incident.escalation_steps.select_related("actor"),
        "pages": pages,
        "can_acknowledge": bool(
            user
            and incident.is_open
            and any(p.is_open for p in pages)
            and acknowledgement.may_acknowledge(incident, user)
        ),
        "can_escalate": bool(
            user
            and clock
            and incident.is_open
            and user.has_perm("incidents.change_incident")
            and levels
        ),
        "levels": levels,
        "choose_level": bool(user) and escalation.ops_rank(user) >= 3,
        "reasons": [(r.value, r.label) for r in MANUAL_REASONS],
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def next_escalation(incident):
    """``{% next_escalation incident as nxt %}``: the same answer the panel shows; None when the
    running clock will do nothing more on its own, "" when no clock runs (untriaged, recovered)."""
    clock = _clock_of(incident)
    if not escalation.clock_running(incident, clock):
        return ""
    return escalation.next_step(incident, clock)


@register.simple_tag
def level_text(level):
    return level_label(level)
