"""``{% incident_panels incident %}``: the panels other apps registered for the incident page
(``incidents.panels``), each rendered with its own template and context."""

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from ..panels import panels

register = template.Library()


@register.simple_tag(takes_context=True)
def incident_panels(context, incident):
    request = context.get("request")
    parts = []
    for panel in panels():
        data = panel.context(request, incident)
        if data is None:
            continue
        # render_to_string autoescapes every value: the panels' templates escape what they show.
        parts.append(render_to_string(panel.template, {"incident": incident, **data}, request))
    return mark_safe("".join(parts))  # noqa: S308 - rendered templates, escaped by Django
