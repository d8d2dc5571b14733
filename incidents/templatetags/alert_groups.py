"""``{% alert_groups_panel incident %}``: the alert groups of a storm incident on its page — each
with its service, priority and alert counts, and a split button for operators and up. One query,
and only on pages of incidents that have alerts (``_alerts.html``)."""

from django import template

from .. import intake

register = template.Library()


@register.inclusion_tag("incidents/partials/_alert_groups.html", takes_context=True)
def alert_groups_panel(context, incident):
    request = context.get("request")
    user = getattr(request, "user", None)
    groups = list(intake.member_groups(incident, with_storm=True))
    return {
        "incident": incident,
        "storm": any(group.is_storm for group in groups),
        "groups": [group for group in groups if not group.is_storm],
        "can_split": bool(user) and incident.is_open and intake.can_split(user),
        "csrf_token": context.get("csrf_token"),
    }
