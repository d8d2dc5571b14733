"""REST API of backup & recovery: /api/v1/backup-policies/, backup-jobs/, restore-tests/."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from itsm.core.api.mixins import (
    IDEMPOTENCY_HEADER,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    TransitionsMixin,
)
from itsm.core.api.permissions import ModelPermissions, TokenScopePermission

from .. import services
from ..models import BackupJob, BackupPolicy, RestoreTest
from .serializers import (
    BackupJobReportSerializer,
    BackupJobSerializer,
    BackupPolicySerializer,
    RestoreTestSerializer,
)

PERMISSIONS = [IsAuthenticated, TokenScopePermission, ModelPermissions]


class BackupPolicyViewSet(viewsets.ReadOnlyModelViewSet):
    """§11.2/§11.3 policies with their 3-2-1, encryption and RPO status."""

    queryset = BackupPolicy.objects.prefetch_related("locations", "schedules")
    serializer_class = BackupPolicySerializer
    permission_classes = PERMISSIONS
    lookup_field = "slug"
    filterset_fields = ["target_kind", "is_active"]
    search_fields = ["name", "slug"]
    ordering_fields = ["display_order", "name", "rpo_due_at"]


class _ReportCreate:
    def create(self, request, *args, **kwargs):
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("Expected a JSON object.")]})
        report = BackupJobReportSerializer(data=request.data)
        report.is_valid(raise_exception=True)
        data = dict(report.validated_data)
        policy, state = data.pop("policy"), data.pop("status")
        job, created = services.record_backup_job(
            policy=policy,
            state=state,
            actor=request.user,
            checksum=data.pop("checksum", ""),
            error=data.pop("error", ""),
            locations=data.pop("locations", None),
            **data,
        )
        body = BackupJobSerializer(job).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class BackupJobViewSet(
    TransitionsMixin,
    IdempotentCreateMixin,
    _ReportCreate,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Backup runs. Tools ``POST`` start and finish reports (idempotent on ``external_id`` per
    policy, and on ``Idempotency-Key``); the lifecycle also moves through ``/transitions/``."""

    queryset = BackupJob.objects.select_related("policy").prefetch_related("locations")
    serializer_class = BackupJobSerializer
    permission_classes = PERMISSIONS
    lookup_field = "number"
    filterset_fields = ["state", "kind", "policy__slug", "external_id"]
    search_fields = ["number", "external_id"]
    ordering_fields = ["created_at", "finished_at", "id"]

    @extend_schema(
        request=BackupJobReportSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: BackupJobSerializer,
            200: OpenApiResponse(BackupJobSerializer, description="The run was already known."),
        },
        summary="Report a backup run starting or finishing",
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


class RestoreTestViewSet(
    TransitionsMixin,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """§11.3 restore tests: plan with ``POST``, record results through ``/transitions/``
    (``pass_test`` with ``restore_minutes``, ``fail_test`` with a reason). A pass slower than the
    policy's RTO is refused (400, guard ``within_rto_or_excepted``) unless an ops manager or the
    policy owner sends ``rto_exception_reason``."""

    queryset = RestoreTest.objects.select_related("policy", "backup_job", "rto_exception_by")
    serializer_class = RestoreTestSerializer
    permission_classes = PERMISSIONS
    lookup_field = "number"
    filterset_fields = ["state", "policy__slug"]
    ordering_fields = ["due_on", "id"]

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_record(self, data: dict) -> RestoreTest:
        return services.plan_restore_test(
            data["policy"],
            due_on=data["due_on"],
            target=data["target"],
            success_criteria=data["success_criteria"],
            actor=self.request.user,
        )
