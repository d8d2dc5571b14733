"""HTML forms of change management; every write goes through ``changes.services``."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from itsm.core.forms import style_fields
from itsm.core.models import Service

from .choices import Decision, Vote
from .models import ChangeClass, ChangeRequest, RollbackCriterion, StandardChangeTemplate

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_FORMAT, **kwargs)


class ChangeRequestForm(forms.ModelForm):
    """The RFC form, in sections: what, impact & risk, plans, schedule (§9.4 事前準備)."""

    SECTIONS = (
        (_("What"), ("title", "category", "change_class", "services", "description")),
        (_("Impact and risk"), ("affected_users", "risk_level", "risk_notes")),
        (_("Plans"), ("implementation_plan", "rollback_plan")),
        (_("Schedule"), ("planned_start", "planned_end", "implementer")),
    )

    services = forms.ModelMultipleChoiceField(
        label=_("affected services"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )

    class Meta:
        model = ChangeRequest
        fields = [
            "title",
            "category",
            "change_class",
            "services",
            "description",
            "affected_users",
            "risk_level",
            "risk_notes",
            "implementation_plan",
            "rollback_plan",
            "planned_start",
            "planned_end",
            "implementer",
        ]
        widgets = {
            "planned_start": DateTimeLocalInput(),
            "planned_end": DateTimeLocalInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
            "affected_users": forms.Textarea(attrs={"rows": 2}),
            "risk_notes": forms.Textarea(attrs={"rows": 2}),
            "implementation_plan": forms.Textarea(attrs={"rows": 4}),
            "rollback_plan": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["change_class"].required = True
        self.fields["change_class"].queryset = ChangeClass.objects.exclude(requires_template=True)
        self.fields["implementer"].queryset = get_user_model().objects.filter(is_active=True)
        for name in ("planned_start", "planned_end"):
            self.fields[name].input_formats = [DATETIME_FORMAT, "%Y-%m-%d %H:%M"]
        style_fields(self)

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]


class FromTemplateForm(forms.Form):
    """A standard change from the catalog: only the title and window are the requester's."""

    template = forms.ModelChoiceField(
        label=_("standard change template"),
        queryset=StandardChangeTemplate.objects.filter(is_active=True),
    )
    title = forms.CharField(
        label=_("title"),
        max_length=200,
        required=False,
    )
    planned_start = forms.DateTimeField(
        label=_("planned start"),
        input_formats=[DATETIME_FORMAT],
        widget=DateTimeLocalInput(),
    )
    planned_end = forms.DateTimeField(
        label=_("planned end"),
        input_formats=[DATETIME_FORMAT],
        widget=DateTimeLocalInput(),
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("planned_start"), data.get("planned_end")
        if start and end and end <= start:
            self.add_error("planned_end", _("The planned end must be after the planned start."))
        return data


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices)
    comment = forms.CharField(required=False, max_length=10000)

    def clean(self):
        data = super().clean()
        if data.get("decision") == Decision.REJECTED and not data.get("comment", "").strip():
            self.add_error("comment", _("A rejection needs a reason."))
        return data


class VoteForm(forms.Form):
    vote = forms.ChoiceField(label=_("vote"), choices=Vote.choices)
    comment = forms.CharField(label=_("comment"), required=False, max_length=10000)

    def clean(self):
        data = super().clean()
        if data.get("vote") == Vote.REJECT and not data.get("comment", "").strip():
            self.add_error("comment", _("A rejection needs a reason."))
        return data


class WorkLogForm(forms.Form):
    text = forms.CharField(
        label=_("what was done"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class VerificationForm(forms.Form):
    """§9.5: one checkbox per active rollback criterion ("met" means roll back)."""

    notes = forms.CharField(
        label=_("verification notes"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = list(RollbackCriterion.objects.filter(is_active=True))
        for criterion in self.criteria:
            self.fields[f"criterion_{criterion.code}"] = forms.BooleanField(
                label=criterion.label,
                required=False,
            )

    def criterion_fields(self):
        return [self[f"criterion_{c.code}"] for c in self.criteria]

    def checks(self) -> dict[str, bool]:
        return {c.code: bool(self.cleaned_data[f"criterion_{c.code}"]) for c in self.criteria}


class PostImplementationReviewForm(forms.Form):
    review = forms.CharField(
        label=_("post-implementation review"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What happened, whether the emergency path was justified, what to improve."),
    )
