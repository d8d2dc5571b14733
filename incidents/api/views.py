"""REST API of incident management: /api/v1/incidents/ and /api/v1/postmortems/."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from itsm.core.api.mixins import (
    IDEMPOTENCY_HEADER,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    ServiceUpdateMixin,
    TransitionsMixin,
)
from itsm.core.api.permissions import ModelPermissions, TokenScopePermission
from itsm.core.roles import ops_rank

from .. import selectors, services
from ..choices import Source
from ..filters import IncidentFilter, PostmortemFilter
from ..models import ActionItem, Incident, Postmortem, Runbook
from .serializers import (
    ActionItemSerializer,
    IncidentCreateSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    PostmortemCreateSerializer,
    PostmortemSerializer,
    PriorityOverrideSerializer,
    RunbookAttachSerializer,
    TimelineEntryCreateSerializer,
    TimelineEntrySerializer,
    WhysSerializer,
)


class IncidentCursorPagination(CursorPagination):
    """Keyset pagination: constant cost per page with a million incidents."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"


class IncidentViewSet(
    TransitionsMixin,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    ServiceUpdateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents (§8). Lifecycle through ``/transitions/``; priority override through
    ``/priority/``; status updates through ``/timeline/``."""

    queryset = Incident.objects.select_related("service", "team", "assignee", "postmortem")
    serializer_class = IncidentSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ModelPermissions]
    lookup_field = "number"
    filterset_class = IncidentFilter
    pagination_class = IncidentCursorPagination
    search_fields = ["title", "number"]
    ordering_fields = ["id", "detected_at", "number"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def get_serializer_class(self):
        if self.action == "create":
            return IncidentCreateSerializer
        if self.action == "partial_update":
            return IncidentUpdateSerializer
        return IncidentSerializer

    def create_record(self, data: dict) -> Incident:
        if data.get("priority") and data["source"] != Source.MONITORING:
            if ops_rank(self.request.user) < 2:
                raise serializers.ValidationError(
                    {
                        "priority": [
                            _(
                                "Only monitoring sources or an ops leader may set the priority; "
                                "give impact scope, business impact and urgency instead."
                            )
                        ]
                    }
                )
        return services.open_incident(actor=self.request.user, **data)

    @extend_schema(request=IncidentUpdateSerializer, responses=IncidentSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def update_record(self, incident: Incident, data: dict) -> Incident:
        return services.update_incident(incident, actor=self.request.user, **data)

    @extend_schema(
        methods=["GET"], responses=TimelineEntrySerializer(many=True), summary="Incident timeline"
    )
    @extend_schema(
        methods=["POST"],
        request=TimelineEntryCreateSerializer,
        responses={201: TimelineEntrySerializer},
        summary="Post a status update or comment",
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="timeline",
        pagination_class=None,  # the whole list (not a page), as the GET returns it
        filter_backends=[],
    )
    def timeline(self, request, number=None):
        incident = self.get_object()
        if request.method == "GET":
            entries = selectors.timeline_for(incident)[:1000]
            return Response(TimelineEntrySerializer(entries, many=True).data)
        inp = TimelineEntryCreateSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        entry = services.add_timeline_entry(incident, actor=request.user, **inp.validated_data)
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PriorityOverrideSerializer,
        responses=IncidentSerializer,
        summary="Override the priority (ops leader or above, reason required)",
    )
    @action(detail=True, methods=["post"], url_path="priority")
    def priority(self, request, number=None):
        incident = self.get_object()
        inp = PriorityOverrideSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        services.override_priority(incident, actor=request.user, **inp.validated_data)
        return Response(IncidentSerializer(incident, context=self.get_serializer_context()).data)

    @extend_schema(
        request=RunbookAttachSerializer, responses=IncidentSerializer, summary="Attach a runbook"
    )
    @action(detail=True, methods=["post"], url_path="runbooks")
    def runbooks(self, request, number=None):
        incident = self.get_object()
        inp = RunbookAttachSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        runbook = Runbook.objects.filter(pk=inp.validated_data["runbook"]).first()
        if runbook is None:
            raise serializers.ValidationError({"runbook": [_("Unknown runbook.")]})
        services.attach_runbook(incident, actor=request.user, runbook=runbook)
        return Response(IncidentSerializer(incident, context=self.get_serializer_context()).data)


class PostmortemViewSet(
    TransitionsMixin,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    ServiceUpdateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Postmortems and reviews (§8.3.4): draft → in_review → published."""

    queryset = Postmortem.objects.select_related("incident", "owner").prefetch_related(
        "whys", "action_items__owner"
    )
    serializer_class = PostmortemSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ModelPermissions]
    lookup_field = "number"
    filterset_class = PostmortemFilter
    ordering_fields = ["due_at", "created_at", "id"]
    ordering = ["-id"]
    search_fields = ["number", "summary", "incident__number", "incident__title"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    @extend_schema(
        request=PostmortemCreateSerializer,
        responses={201: PostmortemSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        summary="Request a postmortem/review for a closed incident (P3 on request, P4 optional)",
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def get_serializer_class(self):
        return PostmortemCreateSerializer if self.action == "create" else PostmortemSerializer

    def create_record(self, data: dict) -> Postmortem:
        return services.request_postmortem(
            data["incident"], actor=self.request.user, kind=data.get("kind")
        )

    @extend_schema(request=PostmortemSerializer, responses=PostmortemSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def update_record(self, postmortem: Postmortem, data: dict) -> Postmortem:
        return services.update_postmortem(postmortem, actor=self.request.user, **data)

    @extend_schema(exclude=True)
    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(
        request=WhysSerializer,
        responses=PostmortemSerializer,
        summary="Replace the 5-whys chain (ordered why → because rows)",
    )
    @action(detail=True, methods=["put"], url_path="whys")
    def whys(self, request, number=None):
        pm = self.get_object()
        self._require("change_postmortem")
        inp = WhysSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        services.save_whys(pm, actor=request.user, rows=inp.validated_data["whys"])
        pm = self.get_object()
        return Response(PostmortemSerializer(pm, context=self.get_serializer_context()).data)

    @extend_schema(
        methods=["GET"], responses=ActionItemSerializer(many=True), summary="Action items"
    )
    @extend_schema(
        methods=["POST"],
        request=ActionItemSerializer,
        responses={201: ActionItemSerializer},
        summary="Add an action item",
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="action-items",
        pagination_class=None,  # the whole list (not a page), as the GET returns it
        filter_backends=[],
    )
    def action_items(self, request, number=None):
        pm = self.get_object()
        if request.method == "GET":
            return Response(ActionItemSerializer(pm.action_items.all(), many=True).data)
        self._require("add_actionitem")
        inp = ActionItemSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        data = inp.validated_data
        item = services.add_action_item(
            pm,
            actor=request.user,
            title=data["title"],
            owner=data.get("owner"),
            due_date=data.get("due_date"),
        )
        return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ActionItemSerializer,
        responses=ActionItemSerializer,
        summary="Update an action item",
    )
    @action(
        detail=True,
        methods=["patch"],
        url_path=r"action-items/(?P<item_id>[0-9]+)",
        url_name="action-item",
    )
    def action_item(self, request, number=None, item_id=None):
        pm = self.get_object()
        self._require("change_actionitem")
        item = get_object_or_404(ActionItem, pk=item_id, postmortem=pm)
        inp = ActionItemSerializer(item, data=request.data, partial=True)
        inp.is_valid(raise_exception=True)
        item = services.update_action_item(item, actor=request.user, **inp.validated_data)
        return Response(ActionItemSerializer(item).data)

    def _require(self, codename: str) -> None:
        if not self.request.user.has_perm(f"incidents.{codename}"):
            raise PermissionDenied()
