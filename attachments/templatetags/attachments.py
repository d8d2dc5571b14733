"""``{% attachments_panel record %}``: the attachments panel of a record's page (postmortems,
changes; the incident page shows it through its panel registry)."""

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from ..selectors import panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def attachments_panel(context, record):
    request = context.get("request")
    data = panel_context(request, record)
    if data is None:
        return ""
    # render_to_string autoescapes every value (names are the client's).
    return mark_safe(render_to_string("attachments/partials/_panel.html", data, request))  # noqa: S308
