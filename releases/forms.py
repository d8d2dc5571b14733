from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from changes.models import ChangeRequest
from incidents.models import Incident
from itsm.core.forms import style_fields
from itsm.core.models import Service

from .choices import FINISHED_RESULTS, DeploymentResult, ReleaseType, Stage, Strategy
from .models import Deployment, Environment, Release, ReleaseSlot

OPEN_CHANGE_STATES = [
    "draft",
    "submitted",
    "in_review",
    "emergency_review",
    "cab_review",
    "approved",
    "scheduled",
    "implementing",
]


class SlotChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ReleaseSlot) -> str:
        local = timezone.localtime(obj.starts_at)
        return f"{local:%Y-%m-%d (%a) %H:%M} · {obj.get_release_type_display()}"


class ReleaseForm(forms.Form):
    """Create a release (§10.2: for a planned slot; a hotfix any time)."""

    name = forms.CharField(label=_("name"), max_length=200)
    version = forms.CharField(label=_("version"), max_length=64)
    release_type = forms.ChoiceField(label=_("release type"), choices=ReleaseType.choices)
    service = forms.ModelChoiceField(
        label=_("service"), queryset=Service.objects.filter(is_active=True)
    )
    slot = SlotChoiceField(
        label=_("release slot"),
        queryset=ReleaseSlot.objects.none(),
        required=False,
        help_text=_("Regular releases take a slot of their type; hotfixes take none."),
    )
    planned_at = forms.DateTimeField(
        label=_("planned date"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Only when the release does not take a slot."),
    )
    strategy = forms.ChoiceField(
        label=_("deployment strategy"), choices=Strategy.choices, widget=forms.RadioSelect
    )
    strategy_rationale = forms.CharField(
        label=_("reason for the strategy"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    scope = forms.CharField(
        label=_("scope"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    notes = forms.CharField(
        label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    changes = forms.ModelMultipleChoiceField(
        label=_("change requests"),
        queryset=ChangeRequest.objects.filter(state__in=OPEN_CHANGE_STATES).order_by("-id"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        now = timezone.now()
        self.fields["slot"].queryset = ReleaseSlot.objects.filter(
            starts_at__gte=now, starts_at__lt=now + timedelta(days=400)
        ).order_by("starts_at")
        style_fields(self)


class DeploymentForm(forms.Form):
    """Record a deployment by hand (a pipeline uses the API)."""

    environment = forms.ModelChoiceField(
        label=_("environment"), queryset=Environment.objects.all(), to_field_name="code"
    )
    version = forms.CharField(label=_("version"), max_length=64)
    result = forms.ChoiceField(
        label=_("result"),
        choices=[(v, label) for v, label in DeploymentResult.choices if v in FINISHED_RESULTS],
    )
    external_url = forms.URLField(
        label=_("pipeline run URL"), required=False, max_length=500, assume_scheme="https"
    )
    notes = forms.CharField(
        label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    advance = forms.BooleanField(
        label=_("Move the release into this environment when it succeeded"),
        required=False,
        initial=True,
    )

    def __init__(self, *args, release: Release | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].label_from_instance = lambda env: env.display_name
        if release is not None:
            self.fields["version"].initial = release.version
            if release.state in [s.value for s in Stage]:
                self.fields["environment"].initial = release.state
        style_fields(self)


class CausingDeploymentForm(forms.Form):
    """Record that one of this release's deployments caused an incident (§8 ↔ §10)."""

    deployment = forms.ModelChoiceField(label=_("deployment"), queryset=Deployment.objects.none())
    incident = forms.CharField(
        label=_("incident number"),
        max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "INC-000123"}),
    )
    note = forms.CharField(
        label=_("notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, release: Release, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["deployment"]
        field.queryset = release.deployments.select_related("environment")
        field.label_from_instance = lambda d: (
            f"#{d.pk} {d.environment.display_name} {d.version} ({d.get_result_display()})"
        )
        production = [d for d in field.queryset if d.environment.code == Stage.PRODUCTION]
        if production:
            field.initial = production[0].pk
        style_fields(self)

    def clean_incident(self):
        number = self.cleaned_data["incident"].strip().upper()
        incident = Incident.objects.filter(number=number).first()
        if incident is None:
            raise forms.ValidationError(_("No incident with this number."))
        return incident
