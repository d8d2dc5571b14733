"""/api/v1/releases/, /api/v1/deployments/, /api/v1/environments/, /api/v1/release-slots/."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from itsm.core import workflow
from itsm.core.api.mixins import (
    IDEMPOTENCY_HEADER,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    ServiceUpdateMixin,
    TransitionsMixin,
)
from itsm.core.api.permissions import ModelPermissions, TokenScopePermission
from itsm.core.models import ApiToken

from .. import selectors, services
from ..filters import DeploymentFilter, ReleaseFilter
from ..models import Deployment, Environment, Release, ReleaseSlot
from .serializers import (
    DeploymentIncidentInputSerializer,
    DeploymentIncidentSerializer,
    DeploymentOutcomeSerializer,
    DeploymentReportSerializer,
    DeploymentSerializer,
    DoraInputsSerializer,
    EnvironmentSerializer,
    ReleaseSerializer,
    ReleaseSlotSerializer,
)


class ReleaseViewSet(
    TransitionsMixin,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    ServiceUpdateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Releases (seed §10). Lifecycle through ``/releases/<number>/transitions/``."""

    queryset = Release.objects.select_related("service", "owner", "slot").prefetch_related(
        "changes"
    )
    serializer_class = ReleaseSerializer
    permission_classes = [ModelPermissions, TokenScopePermission]
    lookup_field = "number"
    filterset_class = ReleaseFilter
    search_fields = ["number", "name", "version"]
    ordering_fields = ["planned_at", "number", "created_at", "state"]
    ordering = ["-planned_at", "-id"]

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_record(self, data: dict) -> Release:
        return services.create_release(actor=self.request.user, **data)

    def update_record(self, release: Release, data: dict) -> Release:
        return services.update_release(release, actor=self.request.user, **data)

    @extend_schema(
        parameters=[
            OpenApiParameter("service", str, description="Service slug"),
            OpenApiParameter("days", int, description="Window ending now, 1–366 days (30)"),
        ],
        responses=DoraInputsSerializer,
        summary="DORA inputs: production deployments, failures, lead time",
    )
    @action(
        detail=False, methods=["get"], url_path="dora", filter_backends=[], pagination_class=None
    )
    def dora(self, request):
        days = request.query_params.get("days", "30")
        if not days.isdigit() or not 1 <= int(days) <= 366:
            raise serializers.ValidationError({"days": ["A whole number of days from 1 to 366."]})
        until = timezone.now()
        data = selectors.dora_inputs(
            since=until - dt.timedelta(days=int(days)),
            until=until,
            service=request.query_params.get("service", "")[:100],
        )
        return Response(DoraInputsSerializer(data).data)


class DeploymentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Deployments per environment. CI/CD pipelines ``POST`` one per deployment with a Bearer
    token whose user may add deployments; ``external_id`` (the pipeline run id) makes the
    report idempotent. A successful deployment moves the release into that environment when
    the release is one stage before it; a production deployment the rules do not allow (no
    approved change covering now, release not past staging) is refused with 409 and not
    recorded."""

    queryset = Deployment.objects.select_related("release", "environment", "reported_by")
    serializer_class = DeploymentSerializer
    permission_classes = [ModelPermissions, TokenScopePermission]
    filterset_class = DeploymentFilter
    search_fields = ["release__number", "version", "external_id", "commit_sha"]
    ordering_fields = ["started_at", "finished_at", "id"]
    ordering = ["-started_at", "-id"]

    @extend_schema(
        request=DeploymentReportSerializer,
        responses={
            201: DeploymentOutcomeSerializer,
            200: OpenApiResponse(DeploymentOutcomeSerializer, description="Replay of a run"),
            400: OpenApiResponse(description="Invalid input (field messages)"),
            409: OpenApiResponse(description="Refused: the rules do not allow this deployment"),
        },
        summary="Report a deployment (CI/CD)",
    )
    def create(self, request, *args, **kwargs):
        report = DeploymentReportSerializer(data=request.data)
        report.is_valid(raise_exception=True)
        data = dict(report.validated_data)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        try:
            outcome = services.record_deployment(
                actor=request.user,
                reported_via=token.name if token else "",
                **data,
            )
        except workflow.TransitionError as refusal:
            return Response(
                {"code": refusal.code, "detail": refusal.message, **refusal.extra},
                status=status.HTTP_409_CONFLICT,
            )
        deployment = outcome.deployment
        deployment.release_advanced = outcome.advanced
        deployment.advance_refused = (
            {
                "code": outcome.refusal.code,
                "detail": outcome.refusal.message,
                **outcome.refusal.extra,
            }
            if outcome.refusal
            else None
        )
        body = DeploymentOutcomeSerializer(deployment).data
        return Response(
            body, status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        )

    @extend_schema(
        methods=["GET"],
        responses=DeploymentIncidentSerializer(many=True),
        summary="Incidents caused by this deployment",
    )
    @extend_schema(
        methods=["POST"],
        request=DeploymentIncidentInputSerializer,
        responses={
            201: DeploymentIncidentSerializer,
            200: OpenApiResponse(DeploymentIncidentSerializer, description="Already linked"),
            400: OpenApiResponse(description="Invalid input (field messages)"),
        },
        summary="Record that this deployment caused an incident",
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="incidents",
        filter_backends=[],
        pagination_class=None,
    )
    def incidents(self, request, pk=None):
        deployment = self.get_object()
        if request.method == "GET":
            links = selectors.incident_links(deployment)
            return Response(DeploymentIncidentSerializer(links, many=True).data)
        if not request.user.has_perm("releases.add_deploymentincident"):
            raise PermissionDenied()
        data = DeploymentIncidentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        link, created = services.link_causing_deployment(
            deployment,
            incident=data.validated_data["incident"],
            note=data.validated_data.get("note", ""),
            actor=request.user,
            linked_via=token.name if token else "",
        )
        return Response(
            DeploymentIncidentSerializer(link).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class EnvironmentViewSet(viewsets.ReadOnlyModelViewSet):
    """The five environments of §10.3 and their roles."""

    queryset = Environment.objects.all()
    serializer_class = EnvironmentSerializer
    permission_classes = [ModelPermissions, TokenScopePermission]
    lookup_field = "code"
    pagination_class = None
    filter_backends = []


class ReleaseSlotViewSet(viewsets.ReadOnlyModelViewSet):
    """Planned release slots generated from the cadence (§10.2)."""

    queryset = ReleaseSlot.objects.all()
    serializer_class = ReleaseSlotSerializer
    permission_classes = [ModelPermissions, TokenScopePermission]
    filterset_fields = ["release_type"]
    ordering_fields = ["starts_at"]
    ordering = ["starts_at"]
