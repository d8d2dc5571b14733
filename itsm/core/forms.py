"""Form helpers shared by every app's screens."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import directory
from .models import ChatFormat, validate_time_zone, validate_web_url


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ``ValidationError`` on the form: on its field when the form has one,
    otherwise above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class LoginForm(AuthenticationForm):
    """Django's login form, which tells a directory that cannot be asked from a wrong password."""

    directory_messages = {
        directory.UNREACHABLE: _(
            "The directory server cannot be reached; try again or ask your administrator."
        ),
        directory.MISCONFIGURED: _(
            "Directory login is not working because of a configuration problem; "
            "ask your administrator."
        ),
    }

    def get_invalid_login_error(self):
        problem = directory.reported_problem(self.request)
        if problem in self.directory_messages:
            return ValidationError(self.directory_messages[problem], code=f"directory_{problem}")
        return super().get_invalid_login_error()


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
    time_zone = forms.CharField(
        label=_("Time zone"), max_length=64, initial="Asia/Tokyo", validators=[validate_time_zone]
    )
    chat_webhook_url = forms.URLField(
        label=_("Personal chat webhook"),
        required=False,
        max_length=500,
        assume_scheme="https",
        validators=[validate_web_url],
    )
    chat_format = forms.ChoiceField(label=_("Chat format"), choices=ChatFormat.choices)

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
