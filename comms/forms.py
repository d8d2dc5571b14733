"""Forms of the communication screens; the services validate again (and say why)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from itsm.core.forms import style_fields
from itsm.core.models import Service, Team

from .choices import Audience, ServiceStatus, UpdateStatus


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class UpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=UpdateStatus.choices)
    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=Audience.choices,
        initial=Audience.INTERNAL,
        help_text=_(
            "Public updates also appear on the public status page; write them for customers."
        ),
    )
    message_ja = forms.CharField(
        label=_("Message (Japanese)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    message_en = forms.CharField(
        label=_("Message (English)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self, small=True)


class RolesForm(forms.Form):
    commander = forms.ModelChoiceField(
        label=_("Incident commander"), queryset=_people(), required=False
    )
    comms_lead = forms.ModelChoiceField(
        label=_("Communications lead"), queryset=_people(), required=False
    )
    responders = forms.ModelMultipleChoiceField(
        label=_("Responders"), queryset=_people(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("commander", "comms_lead", "responders"):
            self.fields[name].queryset = _people()
        style_fields(self, small=True)


class PublicStatusForm(forms.Form):
    service_status = forms.ChoiceField(
        label=_("Service status"),
        choices=[("", _("Derived from priority and state")), *ServiceStatus.choices],
        required=False,
    )
    public_title = forms.CharField(label=_("Public title"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self, small=True)


class SubscriberForm(forms.Form):
    user = forms.ModelChoiceField(label=_("Person"), queryset=_people(), required=False)
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.order_by("name"), required=False
    )
    email = forms.EmailField(label=_("Email address"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = _people()
        style_fields(self, small=True)


class PublicSubscribeForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.none(),
        required=False,
        empty_label=_("Every service on this page"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = (
            Service.objects.filter(status_page__public=True, is_active=True)
            .select_related("status_page")
            .order_by("status_page__order", "name")
        )
        self.fields["service"].label_from_instance = lambda s: s.status_page.display_name
        style_fields(self)
