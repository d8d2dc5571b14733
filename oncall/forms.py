"""Forms of the on-call screens: a rotation (layer) with its people in order, and an override."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .models import Layer

SLOTS = 8  # people in one rotation on the form (the API takes any number)


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class LayerForm(forms.ModelForm):
    """Hand-off time, length, start date, restriction, and the people in order (1st, 2nd, …)."""

    class Meta:
        model = Layer
        fields = [
            "name",
            "rotation",
            "length_days",
            "handoff_time",
            "start_date",
            "restriction",
            "priority",
        ]
        widgets = {
            "handoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = [m.user for m in self.instance.rotation_members.all()] if self.instance.pk else []
        for slot in range(SLOTS):
            self.fields[f"member_{slot}"] = forms.ModelChoiceField(
                queryset=_people(),
                required=False,
                label=_("On call #%(n)s") % {"n": slot + 1},
                initial=current[slot].pk if slot < len(current) else None,
            )

    @property
    def member_fields(self):
        return [self[f"member_{slot}"] for slot in range(SLOTS)]

    def people(self) -> list:
        return [
            self.cleaned_data[f"member_{slot}"]
            for slot in range(SLOTS)
            if self.cleaned_data.get(f"member_{slot}")
        ]


class OverrideForm(forms.Form):
    user = forms.ModelChoiceField(queryset=_people(), label=_("Person on call"))
    replaces = forms.ModelChoiceField(queryset=_people(), required=False, label=_("Covering for"))
    start = forms.DateTimeField(
        label=_("Start"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label=_("End"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
