"""HTML forms of incident management. Forms validate; services write."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from itsm.core.models import Service, Team

from .choices import (
    POSTABLE_TIMELINE_KINDS,
    BusinessImpact,
    ImpactScope,
    Priority,
    Source,
    Urgency,
)
from .models import ActionItem, Postmortem, Runbook


def _active_users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class IncidentCreateForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=Source.choices, initial=Source.USER_REPORT
    )
    service = forms.ModelChoiceField(
        label=_("Service"), queryset=Service.objects.filter(is_active=True), required=False
    )


class TriageForm(forms.Form):
    """§8.3.2 トリアージ基準: the three inputs of the matrix, plus who takes it."""

    impact_scope = forms.ChoiceField(
        label=_("Impact scope"), choices=ImpactScope.choices, widget=forms.RadioSelect
    )
    business_impact = forms.ChoiceField(
        label=_("Business impact"), choices=BusinessImpact.choices, widget=forms.RadioSelect
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=Urgency.choices, widget=forms.RadioSelect
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=_active_users(), required=False)
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000)


class TimelineEntryForm(forms.Form):
    text = forms.CharField(
        label=_("Status update"), max_length=10000, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(k.value, k.label) for k in POSTABLE_TIMELINE_KINDS],
        initial=POSTABLE_TIMELINE_KINDS[0],
    )


class PriorityOverrideForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    reason = forms.CharField(label=_("Reason"), max_length=2000)


class AssignForm(forms.Form):
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=_active_users(), required=False)


class RunbookAttachForm(forms.Form):
    runbook = forms.ModelChoiceField(
        label=_("Runbook"), queryset=Runbook.objects.filter(is_active=True)
    )


class PostmortemForm(forms.ModelForm):
    class Meta:
        model = Postmortem
        fields = ["summary", "impact", "root_cause", "prevention_measures", "owner", "due_at"]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "impact": forms.Textarea(attrs={"rows": 4}),
            "root_cause": forms.Textarea(attrs={"rows": 3}),
            "prevention_measures": forms.Textarea(attrs={"rows": 3}),
            "due_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
        }


class ActionItemForm(forms.ModelForm):
    class Meta:
        model = ActionItem
        fields = ["title", "owner", "due_date"]
        widgets = {"due_date": forms.DateInput(attrs={"type": "date"})}
