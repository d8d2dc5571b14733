"""The change API: RFCs, transitions, CAB votes, work log, verification, freeze windows,
standard change templates (read) and the iCalendar feed."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.core.api.authentication import BearerTokenAuthentication
from itsm.core.api.mixins import (
    IDEMPOTENCY_HEADER,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    ServiceDestroyMixin,
    ServiceUpdateMixin,
    TransitionsMixin,
)
from itsm.core.api.permissions import ModelPermissions, TokenScopePermission

from .. import calendar, gate, ical, selectors, services
from ..filters import ChangeRequestFilter
from ..models import ChangeRequest, FreezeWindow, StandardChangeTemplate
from .serializers import (
    CabVoteInputSerializer,
    CabVoteSerializer,
    ChangeRequestSerializer,
    FreezeWindowSerializer,
    GateDecisionSerializer,
    GateQuerySerializer,
    OpenedIncidentSerializer,
    PostImplementationReviewInputSerializer,
    StandardChangeTemplateSerializer,
    VerificationInputSerializer,
    WorkLogEntrySerializer,
)

PERMISSIONS = [permissions.IsAuthenticated, TokenScopePermission, ModelPermissions]


class ChangeRequestViewSet(
    TransitionsMixin,
    IdempotentCreateMixin,
    ServiceCreateMixin,
    ServiceUpdateMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Requests for change (§9). Editable fields change only in ``draft``; the lifecycle moves
    through ``/transitions/``; ``/votes/`` (CAB), ``/work-log/`` and ``/verification/``."""

    queryset = selectors.change_list().prefetch_related("services", "approvals__approver")
    serializer_class = ChangeRequestSerializer
    permission_classes = PERMISSIONS
    lookup_field = "number"
    lookup_value_regex = "CHG-[0-9]+"
    filterset_class = ChangeRequestFilter
    search_fields = ["number", "title", "description"]
    ordering_fields = ["planned_start", "created_at", "number", "state", "risk_level"]
    ordering = ["-id"]

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_record(self, data: dict) -> ChangeRequest:
        services_ = data.pop("services", [])
        template = data.pop("template", None)
        if template is None:
            return services.create_change(actor=self.request.user, services=services_, **data)
        if services_:
            data["services"] = services_
        return services.create_from_template(template, actor=self.request.user, **data)

    def update_record(self, change: ChangeRequest, data: dict) -> ChangeRequest:
        services_ = data.pop("services", None)
        return services.update_change(change, actor=self.request.user, services=services_, **data)

    @extend_schema(
        methods=["GET"], responses=CabVoteSerializer(many=True), summary="CAB votes so far"
    )
    @extend_schema(
        methods=["POST"],
        request=CabVoteInputSerializer,
        responses=CabVoteSerializer,
        summary="Cast or change my CAB vote (a rejection needs a comment)",
    )
    @action(detail=True, methods=["get", "post"], url_path="votes", pagination_class=None)
    def votes(self, request, number=None):
        change = self.get_object()
        if request.method == "GET":
            votes = change.votes.select_related("member")
            return Response(CabVoteSerializer(votes, many=True).data)
        payload = CabVoteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        vote = services.cast_cab_vote(change, member=request.user, **payload.validated_data)
        return Response(CabVoteSerializer(vote).data, status=201)

    @extend_schema(
        methods=["GET"], responses=WorkLogEntrySerializer(many=True), summary="The work log"
    )
    @extend_schema(
        methods=["POST"],
        request=WorkLogEntrySerializer,
        responses=WorkLogEntrySerializer,
        summary="Log work while the change is implemented",
    )
    @action(detail=True, methods=["get", "post"], url_path="work-log", pagination_class=None)
    def work_log(self, request, number=None):
        change = self.get_object()
        if request.method == "GET":
            entries = change.work_log.select_related("author")
            return Response(WorkLogEntrySerializer(entries, many=True).data)
        payload = WorkLogEntrySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = services.log_work(change, actor=request.user, text=payload.validated_data["text"])
        return Response(WorkLogEntrySerializer(entry).data, status=201)

    @extend_schema(
        request=VerificationInputSerializer,
        responses=ChangeRequestSerializer,
        summary="Record the verification against the rollback criteria (§9.5)",
    )
    @action(detail=True, methods=["post"], url_path="verification")
    def verification(self, request, number=None):
        change = self.get_object()
        payload = VerificationInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.verify_change(change, actor=request.user, **payload.validated_data)
        return Response(self.get_serializer(change).data)

    @extend_schema(
        request=None,
        responses={201: OpenedIncidentSerializer, 200: OpenedIncidentSerializer},
        summary="A failed change opens its caused-by incident (200 when already opened)",
    )
    @action(detail=True, methods=["post"], url_path="incident")
    def incident(self, request, number=None):
        change = self.get_object()
        incident, created = services.open_incident_for_failed_change(change, actor=request.user)
        body = OpenedIncidentSerializer(incident, context={"created": created}).data
        return Response(body, status=201 if created else 200)

    @extend_schema(
        request=PostImplementationReviewInputSerializer,
        responses=ChangeRequestSerializer,
        summary="Record (or amend) the post-implementation review of an emergency change",
    )
    @action(detail=True, methods=["post"], url_path="post-implementation-review")
    def post_implementation_review(self, request, number=None):
        change = self.get_object()
        payload = PostImplementationReviewInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.record_post_implementation_review(
            change, actor=request.user, review=payload.validated_data["review"]
        )
        return Response(self.get_serializer(change).data)


class FreezeWindowViewSet(
    ServiceCreateMixin,
    ServiceUpdateMixin,
    ServiceDestroyMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Freeze windows: no changes may be scheduled inside one, except emergency changes."""

    queryset = FreezeWindow.objects.prefetch_related("services").order_by("starts_at")
    serializer_class = FreezeWindowSerializer
    permission_classes = PERMISSIONS
    filterset_fields = []
    search_fields = ["name"]
    ordering_fields = ["starts_at", "ends_at"]

    def create_record(self, data: dict) -> FreezeWindow:
        return services.create_freeze_window(actor=self.request.user, **data)

    def update_record(self, window: FreezeWindow, data: dict) -> FreezeWindow:
        return services.update_freeze_window(window, actor=self.request.user, **data)

    def delete_record(self, window: FreezeWindow) -> None:
        services.delete_freeze_window(window, actor=self.request.user)


class StandardChangeTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """The standard change catalog (pre-approved, owned by ops leaders; edited in the admin)."""

    queryset = (
        StandardChangeTemplate.objects.filter(is_active=True)
        .select_related("owner")
        .prefetch_related("services")
    )
    serializer_class = StandardChangeTemplateSerializer
    permission_classes = PERMISSIONS
    filterset_fields = ["category"]
    search_fields = ["name"]
    ordering_fields = ["name"]


class ChangeGateView(APIView):
    """The change gate for CI/CD pipelines (ServiceNow's DevOps change gate pattern): may this
    service be deployed to this environment now? Always 200 with ``allowed``; the pipeline fails
    its deploy step when ``allowed`` is false and shows ``detail``. Bad parameters → 400."""

    permission_classes = PERMISSIONS
    queryset = ChangeRequest.objects.none()  # ModelPermissions: changes.view_changerequest

    @extend_schema(
        parameters=[GateQuerySerializer],
        responses=GateDecisionSerializer,
        summary="Change gate: is a deployment covered by an approved change?",
    )
    def get(self, request):
        query = GateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        decision = gate.change_gate(
            service=query.validated_data["service"],
            environment=query.validated_data["environment"],
            at=query.validated_data.get("at") or timezone.now(),
        )
        return Response(GateDecisionSerializer(decision).data)


def _feed_user(request):
    """Session, Bearer token, or ``?user=<username>&key=<per-user secret>`` for calendar apps."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = BearerTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        found = None
    if found:
        return found[0]
    username, key = request.GET.get("user", ""), request.GET.get("key", "")
    if username and key:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is not None and hmac.compare_digest(ical.feed_key(user), key):
            return user
    return None


def calendar_feed(request):
    """``/api/v1/changes/calendar.ics``: scheduled changes, freeze windows and registered entries
    (releases), 90 days back and a year ahead."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    user = _feed_user(request)
    if user is None:
        exc = NotAuthenticated()
        return HttpResponse(exc.detail, status=401, content_type="text/plain")
    if not user.has_perm("changes.view_changerequest"):
        return HttpResponse(PermissionDenied().detail, status=403, content_type="text/plain")
    now = timezone.now()
    start, end = now - timedelta(days=90), now + timedelta(days=366)
    changes, freezes = selectors.calendar_entries(start, end)
    body = ical.render(
        changes,
        freezes,
        entries=calendar.entries_between(start, end),
        base_url=request.build_absolute_uri("/").rstrip("/"),
        host=request.get_host(),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="changes.ics"'
    return response
