"""Input and output serializers of the incidents API (HackSoft style: inputs validate, the
service writes, outputs render)."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from itsm.core.api.fields import DateTimeField
from itsm.core.api.mixins import StateReadOnlyMixin
from itsm.core.models import Service, Team

from ..choices import (
    POSTABLE_TIMELINE_KINDS,
    BusinessImpact,
    ImpactScope,
    PostmortemKind,
    Priority,
    Source,
    TimelineKind,
    Urgency,
)
from ..models import ActionItem, FiveWhy, Incident, Postmortem, TimelineEntry


def choice(choices, **kwargs) -> serializers.ChoiceField:
    """A ChoiceField whose error lists the valid values."""
    values = ", ".join(value for value, _label in choices)
    return serializers.ChoiceField(
        choices=choices,
        error_messages={
            "invalid_choice": _("“{input}” is not a valid choice; choose one of: %(values)s.")
            % {"values": values}
        },
        **kwargs,
    )


def user_field(**kwargs):
    return serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.filter(is_active=True), **kwargs
    )


def service_field(**kwargs):
    return serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), **kwargs)


def team_field(**kwargs):
    return serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), **kwargs)


class IncidentSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    track = serializers.CharField(read_only=True, allow_null=True)
    sla_status = serializers.CharField(read_only=True)
    response_sla_breached = serializers.BooleanField(read_only=True)
    postmortem = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "number",
            "url",
            "state",
            "title",
            "description",
            "source",
            "service",
            "impact_scope",
            "business_impact",
            "urgency",
            "priority",
            "priority_overridden",
            "track",
            "assignee",
            "team",
            "detected_at",
            "triaged_at",
            "response_due_at",
            "response_started_at",
            "recovered_at",
            "closed_at",
            "resolution_summary",
            "fix_status",
            "fixed_at",
            "fix_change",
            "sla_status",
            "response_sla_breached",
            "escalation_level",
            "next_deadline_at",
            "postmortem",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))  # null until one exists
    def get_postmortem(self, obj) -> str | None:
        pm = getattr(obj, "postmortem", None) if _has_postmortem(obj) else None
        return pm.number if pm else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj) -> str:
        request = self.context.get("request")
        path = obj.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


def _has_postmortem(obj) -> bool:
    try:
        obj.postmortem  # noqa: B018
    except Postmortem.DoesNotExist:
        return False
    return True


class IncidentCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    source = choice(Source.choices, default=Source.USER_REPORT)
    service = service_field(required=False, allow_null=True)
    impact_scope = choice(ImpactScope.choices, required=False, allow_blank=True)
    business_impact = choice(BusinessImpact.choices, required=False, allow_blank=True)
    urgency = choice(Urgency.choices, required=False, allow_blank=True)
    priority = choice(
        Priority.choices,
        required=False,
        allow_blank=True,
        help_text=_("Only monitoring sources or ops leaders may set it; others triage."),
    )
    detected_at = DateTimeField(required=False)

    def validate(self, attrs):
        if "state" in self.initial_data:
            raise serializers.ValidationError({"state": [_("A new incident starts as detected.")]})
        return attrs


class IncidentUpdateSerializer(StateReadOnlyMixin, serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    service = service_field(required=False, allow_null=True)
    assignee = user_field(required=False, allow_null=True)
    team = team_field(required=False, allow_null=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        fixed = {"priority": _("Use /priority/ to override the priority.")}
        for name in ("number", "impact_scope", "business_impact", "urgency"):
            fixed[name] = _("This field changes only through a transition.")
        errors = {k: [v] for k, v in fixed.items() if k in self.initial_data}
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class PriorityOverrideSerializer(serializers.Serializer):
    priority = choice(Priority.choices)
    reason = serializers.CharField(max_length=2000)


@extend_schema_field(
    {"type": "string", "description": "One of: " + ", ".join(k.value for k in TimelineKind)}
)
class TimelineKindField(serializers.CharField):
    """A plain string in the schema: "kind" already names the postmortem kind's enum, and two
    enums under one field name collide in drf-spectacular's component naming."""


@extend_schema_field(
    {"type": "string", "description": "One of: " + ", ".join(POSTABLE_TIMELINE_KINDS)}
)
class PostableKindField(serializers.ChoiceField):
    pass


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    kind = TimelineKindField(read_only=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "actor", "kind", "text", "data"]
        read_only_fields = fields

    def get_actor(self, obj) -> str:
        return obj.actor.username if obj.actor_id else (obj.actor_label or "system")


class TimelineEntryCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10000)
    kind = PostableKindField(
        choices=[(k.value, k.label) for k in POSTABLE_TIMELINE_KINDS],
        default=TimelineKind.STATUS_UPDATE,
        error_messages={
            "invalid_choice": _("“{input}” is not a valid choice; choose one of: %(values)s.")
            % {"values": ", ".join(POSTABLE_TIMELINE_KINDS)}
        },
    )


class RunbookAttachSerializer(serializers.Serializer):
    runbook = serializers.IntegerField(min_value=1)


class FiveWhySerializer(serializers.ModelSerializer):
    class Meta:
        model = FiveWhy
        fields = ["order", "why", "because"]
        read_only_fields = ["order"]


class ActionItemSerializer(serializers.ModelSerializer):
    owner = user_field(required=False, allow_null=True)

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "done", "done_at"]
        read_only_fields = ["id", "done_at"]


class PostmortemSerializer(StateReadOnlyMixin, serializers.ModelSerializer):
    incident = serializers.SlugRelatedField(slug_field="number", read_only=True)
    owner = user_field(required=False, allow_null=True)
    whys = FiveWhySerializer(many=True, read_only=True)
    action_items = ActionItemSerializer(many=True, read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Postmortem
        fields = [
            "number",
            "incident",
            "kind",
            "state",
            "mandatory",
            "owner",
            "due_at",
            "is_overdue",
            "summary",
            "impact",
            "root_cause",
            "prevention_measures",
            "whys",
            "action_items",
            "created_at",
            "published_at",
        ]
        read_only_fields = [
            "number",
            "incident",
            "kind",
            "state",
            "mandatory",
            "created_at",
            "published_at",
        ]


class PostmortemCreateSerializer(serializers.Serializer):
    incident = serializers.SlugRelatedField(
        slug_field="number", queryset=Incident.objects.filter(state="closed")
    )
    kind = choice(PostmortemKind.choices, required=False)


class WhysSerializer(serializers.Serializer):
    whys = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True)),
        max_length=20,
        allow_empty=True,
    )
