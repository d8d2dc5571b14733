"""Form helpers shared by every app's screens."""

from django import forms


def style_fields(form: forms.BaseForm, *, small: bool = False) -> forms.BaseForm:
    """Give each widget its Bootstrap class (form-select, form-check-input or form-control)."""
    size = "-sm" if small else ""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(
            widget, forms.CheckboxInput | forms.RadioSelect | forms.CheckboxSelectMultiple
        ):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = f"form-select form-select{size}" if small else "form-select"
        else:
            css = f"form-control form-control{size}" if small else "form-control"
        widget.attrs.setdefault("class", css)
    return form
