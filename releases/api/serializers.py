from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from changes.models import ChangeRequest
from incidents.models import Incident
from itsm.core.api.fields import DateTimeField
from itsm.core.api.mixins import StateReadOnlyMixin
from itsm.core.models import Service

from ..choices import STATUS_TO_RESULT, DeploymentResult, DeploymentStatus, Stage
from ..models import Deployment, DeploymentIncident, Environment, Release, ReleaseSlot


class ReleaseSerializer(StateReadOnlyMixin, serializers.ModelSerializer):
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.filter(is_active=True)
    )
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="Username; defaults to the caller.",
    )
    slot = serializers.PrimaryKeyRelatedField(
        queryset=ReleaseSlot.objects.all(), required=False, allow_null=True
    )
    changes = serializers.SlugRelatedField(
        slug_field="number", queryset=ChangeRequest.objects.all(), many=True, required=False
    )
    planned_at = DateTimeField(required=False)

    class Meta:
        model = Release
        fields = [
            "number",
            "state",
            "name",
            "version",
            "release_type",
            "service",
            "slot",
            "planned_at",
            "strategy",
            "strategy_rationale",
            "scope",
            "notes",
            "owner",
            "changes",
            "testing_failures",
            "staging_failures",
            "canary_failures",
            "canary_skipped",
            "production_at",
            "completed_at",
            "rolled_back_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "number",
            "state",
            "testing_failures",
            "staging_failures",
            "canary_failures",
            "canary_skipped",
            "production_at",
            "completed_at",
            "rolled_back_at",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None:
            for name in ("release_type", "service", "slot"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {name: [_("Fixed once the release exists; create a new release.")]}
                    )
                attrs.pop(name, None)
        return attrs


class EnvironmentSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(source="display_name")
    role = serializers.CharField(source="display_role")

    class Meta:
        model = Environment
        fields = ["code", "name", "role", "order"]


class ReleaseSlotSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReleaseSlot
        fields = ["id", "release_type", "starts_at", "ends_at"]


class CommitSerializer(serializers.Serializer):
    sha = serializers.RegexField(r"^[0-9a-fA-F]{4,64}$", max_length=64)
    committed_at = DateTimeField()
    message = serializers.CharField(required=False, allow_blank=True, max_length=500)


class DeploymentStatusField(serializers.ChoiceField):
    """The pipeline-facing status (published as the DeploymentStatusEnum component)."""

    def __init__(self, **kwargs):
        super().__init__(choices=DeploymentStatus.choices, **kwargs)


class DeploymentSerializer(serializers.ModelSerializer):
    release = serializers.CharField(source="release.number", read_only=True)
    environment = serializers.CharField(source="environment.code", read_only=True)
    status = DeploymentStatusField(read_only=True)
    reported_by = serializers.CharField(source="reported_by.username", default=None, read_only=True)
    rollback_of = serializers.IntegerField(source="rollback_of_id", read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "release",
            "environment",
            "version",
            "status",
            "result",
            "started_at",
            "finished_at",
            "reported_by",
            "reported_via",
            "external_id",
            "external_url",
            "repository_url",
            "log_url",
            "commit_sha",
            "commits",
            "rollback_of",
            "notes",
            "created_at",
        ]
        read_only_fields = fields


class DeploymentReportSerializer(serializers.Serializer):
    """What a CI/CD pipeline posts around a deployment (the input of ``record_deployment``).

    The release is named by ``release`` (its number) or by ``service`` + ``version``; a
    rollback run may name only ``rollback_of``. The outcome is ``status`` (queued /
    in_progress / success / failure / rolled_back); clients written before ``status`` existed
    send ``result`` (succeeded / failed / rolled_back) and keep working."""

    release = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="Release number, e.g. REL-000012. Or give service and version.",
    )
    service = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Service slug; with version it identifies the release when no number is given.",
    )
    environment = serializers.ChoiceField(choices=Stage.choices)
    version = serializers.CharField(max_length=64)
    status = DeploymentStatusField(
        required=False, help_text="queued, in_progress, success, failure or rolled_back."
    )
    result = serializers.ChoiceField(
        choices=DeploymentResult.choices,
        required=False,
        help_text="Older name of status (succeeded, failed, rolled_back); give one of the two.",
    )
    started_at = DateTimeField(required=False)
    finished_at = DateTimeField(required=False, allow_null=True)
    external_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Pipeline run id; a repeated report with the same id updates the same row.",
    )
    external_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, help_text="Pipeline run URL."
    )
    repository_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    log_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    commit_sha = serializers.RegexField(
        r"^[0-9a-fA-F]{4,64}$", max_length=64, required=False, allow_blank=True
    )
    commits = CommitSerializer(many=True, required=False, max_length=1000)
    rollback_of = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="The deployment this run rolls back: its external_id or its id.",
    )
    notes = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    advance = serializers.BooleanField(
        default=True,
        help_text="Move the release into this environment when the deployment succeeded.",
    )

    def validate_release(self, value):
        if not value.strip():
            return None
        release = Release.objects.filter(number=value.strip().upper()).first()
        if release is None:
            raise serializers.ValidationError(_("No release with this number."))
        return release

    def validate_service(self, value):
        if not value.strip():
            return None
        service = Service.objects.filter(slug=value.strip()).first()
        if service is None:
            raise serializers.ValidationError(_("No service with this slug."))
        return service

    def validate_environment(self, value):
        environment = Environment.objects.filter(code=value).first()
        if environment is None:
            raise serializers.ValidationError(_("This environment is not configured."))
        return environment

    def validate_rollback_of(self, value):
        value = value.strip()
        if not value:
            return None
        target = Deployment.objects.select_related("release").filter(external_id=value).first()
        if target is None and value.isdigit():
            target = Deployment.objects.select_related("release").filter(pk=int(value)).first()
        if target is None:
            raise serializers.ValidationError(_("No deployment with this external id or id."))
        return target

    def validate(self, attrs):
        started, finished = attrs.get("started_at"), attrs.get("finished_at")
        if started and finished and finished < started:
            raise serializers.ValidationError(
                {"finished_at": [_("The end cannot be before the start.")]}
            )
        attrs["result"] = self._result(attrs)
        attrs.pop("status", None)
        attrs["release"] = self._release(attrs)
        attrs.pop("service", None)
        for commit in attrs.get("commits", []):
            commit["committed_at"] = commit["committed_at"].isoformat()
        return attrs

    @staticmethod
    def _result(attrs) -> str:
        status, result = attrs.get("status"), attrs.get("result")
        if status is None and result is None:
            raise serializers.ValidationError(
                {"status": [_("Give the deployment status (or, as before, its result).")]}
            )
        if status is not None and result is not None and STATUS_TO_RESULT[status] != result:
            raise serializers.ValidationError(
                {"status": [_("The status contradicts the result; send only the status.")]}
            )
        return STATUS_TO_RESULT[status] if status is not None else result

    @staticmethod
    def _release(attrs) -> Release:
        release, service = attrs.get("release"), attrs.get("service")
        rollback_of = attrs.get("rollback_of")
        if release is not None:
            if service is not None and release.service_id != service.pk:
                raise serializers.ValidationError(
                    {"service": [_("The release belongs to another service.")]}
                )
            return release
        if rollback_of is not None and service is None:
            return rollback_of.release
        if service is None:
            raise serializers.ValidationError(
                {"release": [_("Give the release number, or the service and the version.")]}
            )
        matches = Release.objects.filter(service=service, version=attrs["version"])
        if len(matches) > 1:
            matches = matches.filter(state__in=Release.OPEN_STATES)
        matches = list(matches[:2])
        if not matches:
            raise serializers.ValidationError(
                {"release": [_("This service has no release with this version.")]}
            )
        if len(matches) > 1:
            raise serializers.ValidationError(
                {
                    "release": [
                        _(
                            "Several open releases of this service have this version; give the number."
                        )
                    ]
                }
            )
        return matches[0]


class DeploymentOutcomeSerializer(DeploymentSerializer):
    release_state = serializers.CharField(source="release.state", read_only=True)
    release_advanced = serializers.BooleanField(read_only=True)
    advance_refused = serializers.DictField(read_only=True, allow_null=True)

    class Meta(DeploymentSerializer.Meta):
        fields = [
            *DeploymentSerializer.Meta.fields,
            "release_state",
            "release_advanced",
            "advance_refused",
        ]
        read_only_fields = fields


class DoraInputsSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    service = serializers.CharField(allow_null=True)
    production_deployments = serializers.IntegerField()
    successful_production_deployments = serializers.IntegerField()
    failed_production_deployments = serializers.IntegerField()
    incident_causing_deployments = serializers.IntegerField()
    failed_changes = serializers.IntegerField()
    deployments_per_day = serializers.FloatField()
    change_failure_rate = serializers.FloatField(allow_null=True)
    lead_time_hours_median = serializers.FloatField(allow_null=True)
    lead_time_samples = serializers.IntegerField()
    releases_rolled_back = serializers.IntegerField()
    hotfixes_in_production = serializers.IntegerField()


class DeploymentIncidentSerializer(serializers.ModelSerializer):
    deployment = serializers.IntegerField(source="deployment_id", read_only=True)
    incident = serializers.CharField(source="incident.number", read_only=True)
    incident_title = serializers.CharField(source="incident.title", read_only=True)
    incident_state = serializers.CharField(source="incident.state", read_only=True)
    linked_by = serializers.CharField(source="linked_by.username", default=None, read_only=True)

    class Meta:
        model = DeploymentIncident
        fields = [
            "id",
            "deployment",
            "incident",
            "incident_title",
            "incident_state",
            "note",
            "linked_by",
            "linked_via",
            "created_at",
        ]
        read_only_fields = fields


class DeploymentIncidentInputSerializer(serializers.Serializer):
    """Link an incident to the deployment that caused it."""

    incident = serializers.CharField(max_length=20, help_text="Incident number, e.g. INC-000123.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    def validate_incident(self, value):
        incident = Incident.objects.filter(number=value.strip().upper()).first()
        if incident is None:
            raise serializers.ValidationError(_("No incident with this number."))
        return incident
