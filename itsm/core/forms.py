"""Form helpers shared by every app's screens."""

import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ChatFormat


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


class NotificationSettingsForm(forms.Form):
    """A person's notification settings: email at all, per urgency the delay of email and of
    their personal chat (empty: not on that channel), quiet hours, their chat webhook."""

    email = forms.BooleanField(label=_("Email"), required=False)
    high_email = forms.IntegerField(min_value=0, max_value=1440, required=False)
    high_chat = forms.IntegerField(min_value=0, max_value=1440, required=False)
    low_email = forms.IntegerField(min_value=0, max_value=1440, required=False)
    low_chat = forms.IntegerField(min_value=0, max_value=1440, required=False)
    quiet_start = forms.TimeField(
        label=_("Quiet hours from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("Low-urgency email and chat wait until the end and come as one digest."),
    )
    quiet_end = forms.TimeField(
        label=_("Quiet hours until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, initial="Asia/Tokyo")
    chat_webhook_url = forms.URLField(
        label=_("Personal chat webhook"), required=False, max_length=500, assume_scheme="https"
    )
    chat_format = forms.ChoiceField(label=_("Chat format"), choices=ChatFormat.choices)

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"]
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise forms.ValidationError(_("Unknown time zone.")) from exc
        return value

    def clean(self):
        data = super().clean()
        if bool(data.get("quiet_start")) != bool(data.get("quiet_end")):
            raise forms.ValidationError(_("Give both ends of the quiet hours, or neither."))
        return data

    @classmethod
    def initial_for(cls, settings: dict) -> dict:
        initial = {k: v for k, v in settings.items() if k != "rules"}
        for rule in settings["rules"]:
            if rule["channel"] in ("email", "chat"):
                initial[f"{rule['urgency']}_{rule['channel']}"] = rule["delay_minutes"]
        return initial

    def rules(self) -> list[dict]:
        return [
            {"urgency": urgency, "channel": channel, "delay_minutes": self.cleaned_data[name]}
            for urgency in ("high", "low")
            for channel in ("email", "chat")
            if self.cleaned_data.get(name := f"{urgency}_{channel}") is not None
        ]
