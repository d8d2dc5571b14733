"""HTML forms of backup & recovery. Forms validate; services write."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import DrillResult
from .models import BackupPolicy, DRScenario, RestoreTest
from .services import add_months

# A restore test is planned at most this far ahead (the longest test interval a policy allows).
MAX_PLAN_MONTHS = 24


class _BootstrapMixin:
    """Bootstrap classes on every widget, and ``is-invalid`` on the fields with errors."""

    def _style(self) -> None:
        for name, field in self.fields.items():
            widget = field.widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            if isinstance(widget, forms.RadioSelect):
                continue
            if name in (self._errors or {}):
                css += " is-invalid"
            widget.attrs["class"] = css

    def full_clean(self):
        super().full_clean()
        self._style()


class RestoreTestPlanForm(_BootstrapMixin, forms.Form):
    """§11.3 リカバリテスト: plan a test of one policy (target and criteria default per policy)."""

    policy = forms.ModelChoiceField(
        label=_("Policy"), queryset=BackupPolicy.objects.filter(is_active=True)
    )
    due_on = forms.DateField(label=_("Due on"), widget=forms.DateInput(attrs={"type": "date"}))
    target = forms.CharField(
        label=_("Test target"),
        max_length=200,
        required=False,
        help_text=_("Empty: restore the latest good backup into an isolated environment."),
    )
    success_criteria = forms.CharField(
        label=_("Success criteria"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Empty: data complete (checksums and record counts match) within the RTO."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()

    def clean_due_on(self):
        due_on = self.cleaned_data["due_on"]
        today = timezone.localdate()
        if due_on < today:
            raise forms.ValidationError(_("A restore test cannot be due in the past."))
        if due_on > add_months(today, MAX_PLAN_MONTHS):
            raise forms.ValidationError(
                _("Plan restore tests at most %(n)s months ahead.") % {"n": MAX_PLAN_MONTHS}
            )
        return due_on

    def clean(self):
        data = super().clean()
        policy, due_on = data.get("policy"), data.get("due_on")
        if policy and due_on:
            same = RestoreTest.objects.filter(
                policy=policy, due_on=due_on, state__in=RestoreTest.OPEN_STATES
            ).first()
            if same is not None:
                raise forms.ValidationError(
                    _("%(number)s is already planned for %(policy)s on that date.")
                    % {"number": same.number, "policy": policy.name}
                )
        return data


class _ScenarioChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: DRScenario) -> str:
        return f"{obj.plan.name} · {obj.name}"


class DRDrillForm(_BootstrapMixin, forms.Form):
    """§11.4: the record of a DR drill that was held."""

    scenario = _ScenarioChoice(
        label=_("Scenario"), queryset=DRScenario.objects.select_related("plan")
    )
    held_on = forms.DateField(label=_("Held on"), widget=forms.DateInput(attrs={"type": "date"}))
    result = forms.ChoiceField(label=_("Result"), choices=DrillResult.choices)
    measured_minutes = forms.IntegerField(
        label=_("Measured switchover time (minutes)"),
        min_value=0,
        max_value=100000,
        required=False,
        help_text=_("Required unless the drill failed before the switchover completed."),
    )
    findings = forms.CharField(
        label=_("Findings"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What worked, what did not, and what is to be improved."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()

    def clean_held_on(self):
        held_on = self.cleaned_data["held_on"]
        if held_on > timezone.localdate():
            raise forms.ValidationError(_("Record a drill once it has been held."))
        return held_on

    def clean(self):
        data = super().clean()
        result = data.get("result")
        if (
            result in (DrillResult.PASSED, DrillResult.PARTIAL)
            and data.get("measured_minutes") is None
        ):
            self.add_error("measured_minutes", _("Record the measured switchover time."))
        if (
            result in (DrillResult.PARTIAL, DrillResult.FAILED)
            and not data.get("findings", "").strip()
        ):
            self.add_error("findings", _("Describe the findings of a drill that did not pass."))
        return data
