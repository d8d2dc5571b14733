"""One form rendering for the whole portal (issue 14 §6).

Every form field renders through ``templates/django/forms/field.html`` and every widget gets
its Bootstrap 5 class here, at render time, so no form or template has to add
``form-control`` / ``form-select`` / ``form-check-input`` by hand. A widget whose field has
errors (Django marks it ``aria-invalid``) also gets ``is-invalid``.
"""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting

# Widget template → the Bootstrap class its control needs.
_BY_TEMPLATE = {
    "django/forms/widgets/select.html": "form-select",
    "django/forms/widgets/textarea.html": "form-control",
    "django/forms/widgets/checkbox.html": "form-check-input",
}
# Widgets whose options are the controls (a list of radios or checkboxes).
_OPTION_TEMPLATES = {
    "django/forms/widgets/radio.html",
    "django/forms/widgets/checkbox_select.html",
}
_NO_CLASS_INPUTS = {"hidden", "submit", "button", "reset", "image"}


def bootstrap_class(widget: dict) -> str:
    """The Bootstrap class for one widget's context dict ('' when none applies)."""
    template = widget.get("template_name", "")
    if template in _BY_TEMPLATE:
        return _BY_TEMPLATE[template]
    kind = widget.get("type", "")
    if kind in _NO_CLASS_INPUTS:
        return ""
    if kind in ("checkbox", "radio"):
        return "form-check-input"
    if kind == "color":
        return "form-control form-control-color"
    if kind:
        return "form-control"
    return ""


def _add_class(attrs: dict, css: str) -> None:
    existing = attrs.get("class", "").split()
    missing = [c for c in css.split() if c not in existing]
    if missing:
        attrs["class"] = " ".join(missing + existing)


def style_widget(widget: dict) -> None:
    """Add the Bootstrap classes to a widget context (and its subwidgets / options) in place."""
    attrs = widget.setdefault("attrs", {})
    invalid = str(attrs.get("aria-invalid", "")).lower() == "true"
    css = bootstrap_class(widget)
    if widget.get("template_name") in _OPTION_TEMPLATES:
        for _group, options, _index in widget.get("optgroups", ()):
            for option in options:
                option_attrs = option.setdefault("attrs", {})
                _add_class(option_attrs, "form-check-input" + (" is-invalid" if invalid else ""))
        return
    if css:
        _add_class(attrs, css + (" is-invalid" if invalid else ""))
    for sub in widget.get("subwidgets", ()):
        sub_attrs = sub.setdefault("attrs", {})
        if invalid:
            sub_attrs.setdefault("aria-invalid", "true")
        style_widget(sub)


class PortalFormRenderer(TemplatesSetting):
    """Django's template-based renderer with the portal's field template and widget classes."""

    form_template_name = "django/forms/div.html"
    field_template_name = "django/forms/field.html"

    def render(self, template_name, context, request=None):
        widget = context.get("widget") if isinstance(context, dict) else None
        if isinstance(widget, dict) and "template_name" in widget:
            style_widget(widget)
        return super().render(template_name, context, request=request)
