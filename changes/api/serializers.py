"""Serializers of the change API (DESIGN.md § REST API)."""

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from rest_framework import serializers

from itsm.core.api.fields import DateTimeField
from itsm.core.api.mixins import StateReadOnlyMixin
from itsm.core.models import Service

from ..choices import DeploymentEnvironment, GateReason, Vote
from ..models import (
    Approval,
    CabVote,
    ChangeClass,
    ChangeRequest,
    FreezeWindow,
    StandardChangeTemplate,
    WorkLogEntry,
)

User = get_user_model()


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Approval
        fields = ["kind", "decision", "approver", "comment", "at"]


class CabVoteSerializer(serializers.ModelSerializer):
    member = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CabVote
        fields = ["member", "vote", "comment", "cast_at", "updated_at"]
        read_only_fields = ["member", "cast_at", "updated_at"]


class CabVoteInputSerializer(serializers.Serializer):
    vote = serializers.ChoiceField(choices=Vote.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)


class WorkLogEntrySerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = WorkLogEntry
        fields = ["id", "at", "author", "text"]
        read_only_fields = ["id", "at", "author"]
        extra_kwargs = {"text": {"max_length": 10000}}


class VerificationInputSerializer(serializers.Serializer):
    checks = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="Every active rollback criterion code → whether it was met.",
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)


class ChangeRequestSerializer(StateReadOnlyMixin, serializers.ModelSerializer):
    change_class = serializers.SlugRelatedField(
        slug_field="code", queryset=ChangeClass.objects.all()
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=StandardChangeTemplate.objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    services = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), many=True, required=False
    )
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    implementer = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    pre_change_backup = serializers.SlugRelatedField(slug_field="number", read_only=True)
    backup_waived_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        help_text="Who waived the pre-change backup (the class's approver role or an ops manager).",
    )
    approvals = ApprovalSerializer(many=True, read_only=True)
    earliest_start = serializers.SerializerMethodField()
    post_implementation_review_pending = serializers.BooleanField(
        read_only=True,
        help_text="Emergency changes: implemented, the review after the fact not recorded yet.",
    )
    post_implementation_reviewed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ChangeRequest
        fields = [
            "number",
            "state",
            "title",
            "description",
            "category",
            "change_class",
            "template",
            "services",
            "affected_users",
            "risk_level",
            "risk_notes",
            "implementation_plan",
            "rollback_plan",
            "planned_start",
            "planned_end",
            "earliest_start",
            "requester",
            "implementer",
            "pre_change_backup",
            "backup_waived",
            "backup_waiver_reason",
            "backup_waived_by",
            "backup_waived_at",
            "verification_result",
            "verification_notes",
            "rollback_steps",
            "cause_findings",
            "result_report",
            "documentation_updated",
            "documentation_url",
            "post_implementation_review",
            "post_implementation_review_pending",
            "post_implementation_reviewed_at",
            "post_implementation_reviewed_by",
            "outcome",
            "approvals",
            "submitted_at",
            "approved_at",
            "implementation_started_at",
            "closed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "number",
            "state",
            "backup_waived",
            "backup_waiver_reason",
            "backup_waived_at",
            "verification_result",
            "verification_notes",
            "rollback_steps",
            "cause_findings",
            "result_report",
            "documentation_updated",
            "documentation_url",
            "post_implementation_review",
            "post_implementation_reviewed_at",
            "outcome",
            "submitted_at",
            "approved_at",
            "implementation_started_at",
            "closed_at",
            "created_at",
            "updated_at",
        ]

    def get_earliest_start(self, obj) -> str | None:
        if obj.change_class_id is None:
            return None
        return obj.earliest_start().isoformat()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start = attrs.get("planned_start", getattr(self.instance, "planned_start", None))
        end = attrs.get("planned_end", getattr(self.instance, "planned_end", None))
        if start and end and end <= start:
            raise serializers.ValidationError(
                {"planned_end": ["The planned end must be after the planned start."]}
            )
        if self.instance is None and not attrs.get("template"):
            for name in ("title", "category"):
                if not attrs.get(name):
                    raise serializers.ValidationError({name: ["This field is required."]})
        if self.instance is not None and "template" in attrs:
            raise serializers.ValidationError({"template": ["Set only when creating."]})
        return attrs


class FreezeWindowSerializer(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), many=True, required=False
    )
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }

    class Meta:
        model = FreezeWindow
        fields = ["id", "name", "starts_at", "ends_at", "reason", "services"]

    def validate(self, attrs):
        start = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        end = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"ends_at": ["The end must be after the start."]})
        return attrs


class StandardChangeTemplateSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    services = serializers.SlugRelatedField(slug_field="slug", read_only=True, many=True)

    class Meta:
        model = StandardChangeTemplate
        fields = [
            "id",
            "name",
            "category",
            "description",
            "implementation_plan",
            "rollback_plan",
            "risk_level",
            "services",
            "owner",
            "is_active",
        ]


class GateQuerySerializer(serializers.Serializer):
    service = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Service.objects.all(),
        help_text="The service being deployed (its slug).",
    )
    environment = serializers.ChoiceField(
        choices=DeploymentEnvironment.choices,
        help_text="The target environment; only production is gated.",
    )
    at = serializers.DateTimeField(
        required=False,
        help_text="When the deployment happens (ISO 8601); default now.",
    )


class GateWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class GateFreezeSerializer(serializers.Serializer):
    name = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.CharField()


class GateDecisionSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=GateReason.choices, required=False, help_text="Only when refused."
    )
    detail = serializers.CharField()
    change = serializers.CharField(allow_null=True, help_text="The change number (CHG-…).")
    window = GateWindowSerializer(allow_null=True)
    freeze = GateFreezeSerializer(required=False, help_text="Only when a freeze window refuses.")

    def to_representation(self, decision):
        change = decision.change
        body = {
            "allowed": decision.allowed,
            "change": change.number if change else None,
            "window": (
                {
                    "start": timezone.localtime(change.planned_start).isoformat(),
                    "end": timezone.localtime(change.planned_end).isoformat(),
                }
                if change
                else None
            ),
            "detail": decision.detail,
        }
        if not decision.allowed:
            body["reason"] = decision.reason
        if decision.freeze is not None:
            body["freeze"] = {
                "name": decision.freeze.name,
                "start": timezone.localtime(decision.freeze.starts_at).isoformat(),
                "end": timezone.localtime(decision.freeze.ends_at).isoformat(),
                "reason": decision.freeze.reason,
            }
        return body


class OpenedIncidentSerializer(serializers.Serializer):
    """The incident a failed change opened (or had already opened)."""

    incident = serializers.CharField(source="number", help_text="The incident number (INC-…).")
    title = serializers.CharField()
    state = serializers.CharField()
    url = serializers.CharField(source="get_absolute_url")
    created = serializers.SerializerMethodField()

    def get_created(self, incident) -> bool:
        return bool(self.context.get("created"))


class PostImplementationReviewInputSerializer(serializers.Serializer):
    review = serializers.CharField(max_length=10000, help_text="The review after the fact.")
