"""Template tags shared by every app's pages: navigation, state badges, transitions, audit."""

from django import template
from django.urls import NoReverseMatch, reverse

from .. import workflow
from ..audit import events_for

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_url(context, name: str) -> str:
    """The URL of a navigation entry, or '' while the app that owns it has no such page."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@register.filter
def active_for(request, prefix: str) -> bool:
    return bool(prefix) and request.path.startswith(prefix)


@register.inclusion_tag("partials/_state_badge.html")
def state_badge(obj, field: str = "state"):
    value = getattr(obj, field)
    label = getattr(obj, f"get_{field}_display")()
    colors = getattr(type(obj), "STATE_COLORS", {})
    return {"label": label, "color": colors.get(value, "secondary"), "value": value}


@register.inclusion_tag("partials/_transitions.html", takes_context=True)
def transitions_panel(context, obj, errors=None):
    request = context["request"]
    options = workflow.options_for(obj, request.user, include_forbidden=True)
    for_forms = []
    unavailable = [o for o in options if not o.permitted]
    for option in options:
        if not option.permitted:
            continue
        form = workflow.transition_form(obj, option.name) if option.fields else None
        for_forms.append((option, form))
    meta = obj._meta
    return {
        "obj": obj,
        "options": for_forms,
        "unavailable": unavailable,
        "errors": errors,
        "request": request,
        "action_url": reverse("core:transition", args=[meta.app_label, meta.model_name, obj.pk]),
        "diagram_url": reverse("core:workflow", args=[meta.app_label, meta.model_name])
        + f"?state={workflow.state_field(obj).get_state(obj)}",
    }


@register.inclusion_tag("partials/_audit_timeline.html")
def audit_timeline(obj, limit: int = 200):
    return {"events": list(events_for(obj)[:limit]), "obj": obj}


@register.filter
def app_label_of(model) -> str:
    return model._meta.app_label


@register.filter
def model_name_of(model) -> str:
    return model._meta.model_name


@register.filter
def verbose_name_of(model) -> str:
    return str(model._meta.verbose_name)
