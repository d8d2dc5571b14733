"""Serializers of the backup API: policies (read), job reports (write), restore tests."""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from itsm.core.api.fields import DateTimeField
from itsm.core.api.mixins import StateReadOnlyMixin

from ..choices import JobKind
from ..models import BackupJob, BackupPolicy, BackupSchedule, RestoreTest, StorageLocation
from ..services import REPORTABLE_STATES


class StorageLocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = StorageLocation
        fields = ["name", "media_type", "offsite", "encrypted"]


class BackupScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = BackupSchedule
        fields = ["label", "kind", "cron", "expected_duration_minutes"]


class ComplianceSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class BackupPolicySerializer(serializers.ModelSerializer):
    locations = StorageLocationSerializer(many=True, read_only=True)
    schedules = BackupScheduleSerializer(many=True, read_only=True)
    three_two_one = serializers.SerializerMethodField()
    encryption = serializers.SerializerMethodField()
    rpo_status = serializers.SerializerMethodField()

    class Meta:
        model = BackupPolicy
        fields = [
            "slug",
            "name",
            "target_kind",
            "method",
            "trigger",
            "frequency_label",
            "retention_count",
            "retention_unit",
            "rpo_minutes",
            "rto_minutes",
            "locations",
            "schedules",
            "encrypt_backups",
            "breach_priority",
            "restore_test_interval_months",
            "is_active",
            "last_success_at",
            "rpo_due_at",
            "rpo_status",
            "three_two_one",
            "encryption",
        ]
        read_only_fields = fields

    @staticmethod
    def _compliance(result) -> dict:
        return {"ok": result.ok, "reasons": result.reasons}

    def get_three_two_one(self, obj) -> ComplianceSerializer:
        return self._compliance(obj.three_two_one())

    def get_encryption(self, obj) -> ComplianceSerializer:
        return self._compliance(obj.encryption())

    def get_rpo_status(self, obj) -> str:
        return obj.rpo_status()


class BackupJobSerializer(StateReadOnlyMixin, serializers.ModelSerializer):
    policy = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    locations = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    duration_seconds = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = BackupJob
        fields = [
            "number",
            "state",
            "policy",
            "kind",
            "external_id",
            "scheduled_for",
            "started_at",
            "finished_at",
            "duration_seconds",
            "size_bytes",
            "locations",
            "checksum",
            "error",
            "encrypted",
            "verified_at",
            "expired_at",
            "created_at",
        ]
        read_only_fields = fields


class BackupJobReportSerializer(serializers.Serializer):
    """What a backup tool reports; ``status`` says how far the run got (never a state write)."""

    policy = serializers.SlugRelatedField(
        slug_field="slug", queryset=BackupPolicy.objects.filter(is_active=True)
    )
    status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in REPORTABLE_STATES], default="running"
    )
    external_id = serializers.CharField(
        max_length=200, required=False, allow_null=True, allow_blank=False
    )
    kind = serializers.ChoiceField(choices=JobKind.choices, default=JobKind.FULL)
    scheduled_for = DateTimeField(required=False, allow_null=True)
    started_at = DateTimeField(required=False, allow_null=True)
    finished_at = DateTimeField(required=False, allow_null=True)
    size_bytes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**63 - 1
    )
    checksum = serializers.CharField(max_length=200, required=False, allow_blank=True)
    error = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    locations = serializers.SlugRelatedField(
        slug_field="name", queryset=StorageLocation.objects.all(), many=True, required=False
    )

    def validate(self, attrs):
        if "state" in self.initial_data:
            raise serializers.ValidationError(
                {"state": [_("Report “status”; the state changes only through transitions.")]}
            )
        started, finished = attrs.get("started_at"), attrs.get("finished_at")
        if started and finished and finished < started:
            raise serializers.ValidationError(
                {"finished_at": [_("The finish cannot be before the start.")]}
            )
        # A report from the future would push the RPO deadline past reality (clock skew allowed).
        horizon = timezone.now() + timedelta(minutes=5)
        for name in ("started_at", "finished_at"):
            if attrs.get(name) and attrs[name] > horizon:
                raise serializers.ValidationError({name: [_("This time is in the future.")]})
        if attrs.get("status") == "failed" and not attrs.get("error"):
            raise serializers.ValidationError({"error": [_("A failed run needs its error text.")]})
        return attrs


class RestoreTestSerializer(StateReadOnlyMixin, serializers.ModelSerializer):
    policy = serializers.SlugRelatedField(
        slug_field="slug", queryset=BackupPolicy.objects.filter(is_active=True)
    )
    backup_job = serializers.SlugRelatedField(slug_field="number", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)
    within_rto = serializers.BooleanField(read_only=True, allow_null=True)
    rto_exception_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = RestoreTest
        fields = [
            "number",
            "state",
            "policy",
            "due_on",
            "target",
            "success_criteria",
            "executed_at",
            "restore_minutes",
            "within_rto",
            "rto_exception_reason",
            "rto_exception_by",
            "rto_exception_at",
            "notes",
            "backup_job",
            "is_overdue",
        ]
        read_only_fields = [
            "number",
            "state",
            "executed_at",
            "restore_minutes",
            "within_rto",
            "rto_exception_reason",
            "rto_exception_by",
            "rto_exception_at",
            "backup_job",
            "is_overdue",
        ]
