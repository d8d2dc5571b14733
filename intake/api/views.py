"""Monitoring intake endpoints (DESIGN.md § Monitoring intake).

Senders authenticate with their integration's secret, never a user's token: Alertmanager and
Grafana send it as ``Authorization: Bearer <secret>``, Events v2 senders as ``routing_key``.
A request is authenticated, size-checked, parsed, validated and stored (one INSERT,
``incidents.acceptance.accept_delivery``), then answered 202: the delivery is safe in the database.
Applying it (alerts, incidents, timeline) runs right after in the ``incidents.process_deliveries``
Celery task, in order per integration; if the broker is down the beat sweep applies it.

Alert groups of an incident (user tokens, like the rest of the API): ``GET
/api/v1/incidents/<number>/alert-groups/`` lists the groups feeding it — a storm incident's
members — and ``POST /api/v1/alert-groups/<id>/split/`` splits one out into its own incident.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident
from itsm.core.api.permissions import TokenScopePermission

from .. import acceptance, parsing, selectors, services
from ..models import AlertGroup, Integration, IntegrationKind

TOO_LARGE = "The body is larger than 512 KB."


def _body(request) -> bytes | None:
    """The raw body, or None when it is over the limit (checked before reading it)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > parsing.MAX_BODY_BYTES:
        return None
    body = request._request.body
    return None if len(body) > parsing.MAX_BODY_BYTES else body


class _AlwaysJSON(BaseContentNegotiation):
    """Monitoring senders get JSON whatever their Accept header says (never a 406), and the
    renderer is not negotiated on every delivery."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _IntakeView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes = [JSONParser]  # the body is read raw (size first); this names it in the schema
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AlwaysJSON


_AlertIn = inline_serializer(
    "AlertmanagerAlert",
    {
        "status": serializers.CharField(help_text="firing or resolved"),
        "labels": serializers.DictField(child=serializers.CharField()),
        "annotations": serializers.DictField(child=serializers.CharField(), required=False),
        "startsAt": serializers.DateTimeField(required=False),
        "endsAt": serializers.DateTimeField(required=False),
        "generatorURL": serializers.URLField(required=False),
        "fingerprint": serializers.CharField(required=False),
    },
)
_AlertmanagerIn = inline_serializer(
    "AlertmanagerWebhook",
    {
        "version": serializers.CharField(required=False),
        "groupKey": serializers.CharField(required=False),
        "status": serializers.CharField(help_text="firing or resolved", required=False),
        "receiver": serializers.CharField(required=False),
        "groupLabels": serializers.DictField(child=serializers.CharField(), required=False),
        "commonLabels": serializers.DictField(child=serializers.CharField(), required=False),
        "commonAnnotations": serializers.DictField(child=serializers.CharField(), required=False),
        "externalURL": serializers.URLField(required=False),
        "alerts": _AlertIn.__class__(many=True),
    },
)
_AcceptedOut = inline_serializer(
    "IntakeAccepted",
    {
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "delivery": serializers.IntegerField(),
        "incidents": serializers.ListField(
            child=serializers.CharField(),
            help_text="Always empty in the 202: the delivery is applied asynchronously; the "
            "integration's delivery log names the incidents it opened or updated.",
        ),
    },
)
_ErrorOut = inline_serializer(
    "IntakeError",
    {
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


def _not_authenticated() -> Response:
    return Response(
        {
            "code": "not_authenticated",
            "detail": "Authorization: Bearer <integration secret> is missing or invalid.",
        },
        status=status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": 'Bearer realm="integrations"'},
    )


class AlertmanagerWebhookView(_IntakeView):
    """Prometheus Alertmanager webhook (version 4), also Grafana's webhook contact point."""

    @extend_schema(
        operation_id="integrations_alertmanager",
        tags=["integrations"],
        summary="Alertmanager / Grafana webhook",
        description=(
            "`Authorization: Bearer <integration secret>` (the integration's secret, not a user "
            "token). Each POST carries the whole current state of one alert group; alerts are "
            "deduplicated by `fingerprint` and grouped into one incident by `groupKey`. "
            "202 means the delivery is stored; it is applied asynchronously, in order."
        ),
        auth=[],
        request=_AlertmanagerIn,
        responses={
            202: _AcceptedOut,
            400: _ErrorOut,
            401: _ErrorOut,
            429: OpenApiResponse(_ErrorOut, description="Over the rate limit; see Retry-After."),
        },
    )
    def post(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        raw = header[1] if len(header) == 2 and header[0].lower() == "bearer" else ""
        kinds = (IntegrationKind.ALERTMANAGER, IntegrationKind.GENERIC)
        integration = Integration.authenticate(raw, kinds=kinds) if raw else None
        if integration is None:
            return _not_authenticated()
        body = _body(request)
        if body is None:
            return Response(
                {"code": "too_large", "detail": TOO_LARGE}, status=status.HTTP_400_BAD_REQUEST
            )
        retry = acceptance.check_rate_limit(integration)
        if retry is not None:
            return Response(
                {"code": "throttled", "detail": "Too many requests for this integration."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(retry)},
            )
        try:
            message = parsing.parse_alertmanager(parsing.load_json(body))
        except parsing.IntakeInvalid as exc:
            acceptance.record_rejected_delivery(
                integration, fmt=IntegrationKind.ALERTMANAGER, body=body, errors=exc.errors
            )
            return Response(
                {"code": "invalid", "detail": "Invalid webhook body.", "errors": exc.errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        delivery_id = acceptance.accept_delivery(
            integration, fmt=IntegrationKind.ALERTMANAGER, body=body, message=message
        )
        if delivery_id is None:
            return _not_authenticated()
        return Response(
            {
                "status": "success",
                "message": "Delivery queued",
                "delivery": delivery_id,
                "incidents": [],
            },
            status=status.HTTP_202_ACCEPTED,
        )


_EventIn = inline_serializer(
    "EventsV2Event",
    {
        "routing_key": serializers.CharField(),
        "event_action": serializers.ChoiceField(choices=list(parsing.EVENT_ACTIONS)),
        "dedup_key": serializers.CharField(required=False, max_length=255),
        "payload": inline_serializer(
            "EventsV2Payload",
            {
                "summary": serializers.CharField(max_length=1024),
                "source": serializers.CharField(max_length=255),
                "severity": serializers.ChoiceField(choices=list(parsing.EVENT_SEVERITIES)),
                "timestamp": serializers.DateTimeField(required=False),
                "component": serializers.CharField(required=False),
                "group": serializers.CharField(required=False),
                "class": serializers.CharField(required=False),
                "custom_details": serializers.JSONField(required=False),
            },
            required=False,
        ),
        "links": serializers.ListField(child=serializers.DictField(), required=False),
        "images": serializers.ListField(child=serializers.DictField(), required=False),
        "client": serializers.CharField(required=False),
        "client_url": serializers.URLField(required=False),
    },
)
_EventOut = inline_serializer(
    "EventsV2Response",
    {
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "dedup_key": serializers.CharField(required=False),
        "errors": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


def _event_error(message: str, errors: list[str], code: int = 400) -> Response:
    # PagerDuty's shape, plus our stable ``code``.
    return Response(
        {"status": "invalid event", "message": message, "errors": errors, "code": "invalid"},
        status=code,
    )


def _unknown_routing_key() -> Response:
    return _event_error(
        "Event object is invalid", ["“routing_key” is missing, unknown or revoked."]
    )


class EventsV2View(_IntakeView):
    """PagerDuty Events API v2 compatible: any tool that can page PagerDuty can open incidents."""

    @extend_schema(
        operation_id="integrations_events_v2",
        tags=["integrations"],
        summary="PagerDuty Events API v2 compatible",
        description=(
            "The body of PagerDuty's `POST /v2/enqueue`; `routing_key` is the integration's "
            "secret. Answers like PagerDuty: 202 with the `dedup_key` (generated when the trigger "
            "has none) once the event is stored; it is applied asynchronously, in order."
        ),
        auth=[],
        request=_EventIn,
        responses={
            202: _EventOut,
            400: _EventOut,
            429: OpenApiResponse(_EventOut, description="Over the rate limit; see Retry-After."),
        },
        examples=[
            OpenApiExample(
                "trigger",
                request_only=True,
                value={
                    "routing_key": "0123456789abcdef0123456789abcdef",
                    "event_action": "trigger",
                    "dedup_key": "db-primary-disk",
                    "payload": {
                        "summary": "Disk 95% full on db-primary",
                        "source": "db-primary",
                        "severity": "critical",
                    },
                },
            )
        ],
    )
    def post(self, request):
        body = _body(request)
        if body is None:
            return _event_error("Event object is invalid", [TOO_LARGE])
        try:
            data = parsing.load_json(body)
        except parsing.IntakeInvalid as exc:
            return _event_error("Event object is invalid", exc.errors)
        routing_key = data.get("routing_key") if isinstance(data, dict) else None
        kinds = (IntegrationKind.EVENTS_V2, IntegrationKind.GENERIC)
        integration = (
            Integration.authenticate(routing_key, kinds=kinds)
            if isinstance(routing_key, str)
            else None
        )
        if integration is None:
            return _unknown_routing_key()
        retry = acceptance.check_rate_limit(integration)
        if retry is not None:
            return Response(
                {
                    "status": "throttle event",
                    "message": "Requests for this integration are arriving too quickly. "
                    "Please retry later.",
                    "code": "throttled",
                },
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(retry)},
            )
        try:
            event = parsing.parse_event(data)
        except parsing.IntakeInvalid as exc:
            acceptance.record_rejected_delivery(
                integration, fmt=IntegrationKind.EVENTS_V2, body=body, errors=exc.errors
            )
            return _event_error("Event object is invalid", exc.errors)
        # Stored with the routing key redacted and the dedup_key as decided (acceptance.accept_delivery).
        delivery_id = acceptance.accept_delivery(
            integration, fmt=IntegrationKind.EVENTS_V2, body=body, message=event
        )
        if delivery_id is None:
            return _unknown_routing_key()
        return Response(
            {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
            status=status.HTTP_202_ACCEPTED,
        )


class EventsV2EnqueueView(EventsV2View):
    """The same endpoint under PagerDuty's path (``<base>/v2/enqueue``) for client libraries
    whose base URL is configurable; documented once, under ``/integrations/events/``."""

    schema = None


# ---------------------------------------------------------------------------- alert groups


class AlertGroupSerializer(serializers.ModelSerializer):
    """One alert group feeding an incident (``selectors.member_groups`` annotates the counts)."""

    name = serializers.CharField(read_only=True)
    integration = serializers.CharField(source="integration.name", read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    incident = serializers.SlugRelatedField(slug_field="number", read_only=True)
    own_incident = serializers.BooleanField(
        source="opened_incident",
        read_only=True,
        help_text="False: the group joined an alert storm incident and can be split out.",
    )
    alert_count = serializers.IntegerField(read_only=True)
    firing_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = AlertGroup
        fields = [
            "id",
            "name",
            "key",
            "integration",
            "service",
            "priority",
            "incident",
            "own_incident",
            "is_open",
            "opened_at",
            "alert_count",
            "firing_count",
        ]
        read_only_fields = fields


_SplitOut = inline_serializer(
    "AlertGroupSplit",
    {
        "group": serializers.IntegerField(),
        "incident": serializers.CharField(help_text="The new incident of the group."),
        "split_from": serializers.CharField(help_text="The storm incident it left."),
        "priority": serializers.CharField(),
        "service": serializers.CharField(allow_null=True),
    },
)
_ConflictOut = inline_serializer(
    "AlertGroupNotSplittable",
    {
        "code": serializers.CharField(help_text="not_splittable"),
        "detail": serializers.CharField(),
        "incident": serializers.CharField(
            allow_null=True, help_text="The incident the group is on."
        ),
    },
)


class IncidentAlertGroupsView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        operation_id="incidents_alert_groups",
        tags=["incidents"],
        summary="Alert groups feeding an incident (a storm incident's members)",
        responses=AlertGroupSerializer(many=True),
    )
    def get(self, request, number: str):
        if not request.user.has_perm("incidents.view_incident"):
            raise PermissionDenied()
        incident = get_object_or_404(Incident, number=number)
        return Response(AlertGroupSerializer(selectors.member_groups(incident), many=True).data)


class AlertGroupSplitView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        operation_id="alert_groups_split",
        tags=["incidents"],
        summary="Split an alert group out of a storm incident into its own incident",
        description=(
            "Operators and above. Opens a new incident for the group (service and priority from "
            "the integration's mapping rules), moves the group's alerts to it and writes linked "
            "entries on both timelines. `409 not_splittable` when the group already has its own "
            "incident (a repeated split changes nothing; `incident` names it), is the storm "
            "itself, or the storm incident or the group's episode has ended."
        ),
        request=None,
        responses={
            201: _SplitOut,
            403: OpenApiResponse(description="Not an operator or above, or a read-only token."),
            404: OpenApiResponse(description="No such alert group."),
            409: _ConflictOut,
        },
    )
    def post(self, request, pk: int):
        if not request.user.has_perm("incidents.view_incident"):
            raise PermissionDenied()
        found = AlertGroup.objects.filter(pk=pk).values_list("pk", "incident__number").first()
        if found is None:
            raise NotFound()
        split_from = found[1]
        try:
            incident = services.split_group(pk, actor=request.user)
        except AlertGroup.DoesNotExist as exc:
            raise NotFound() from exc
        return Response(
            {
                "group": pk,
                "incident": incident.number,
                "split_from": split_from,
                "priority": incident.priority,
                "service": incident.service.slug if incident.service else None,
            },
            status=status.HTTP_201_CREATED,
        )
