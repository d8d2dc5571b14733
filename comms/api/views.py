"""REST API of incident communication (issue 17).

- ``GET/PATCH /api/v1/incidents/<number>/comms/``: roles (usernames), public title, the
  commander's service status, when the next update is due.
- ``GET/POST /api/v1/incidents/<number>/updates/``: stakeholder updates (posting one sends it to
  every subscriber).
- ``GET/POST /api/v1/incidents/<number>/subscribers/``, ``DELETE …/subscribers/<id>/``.
- ``GET /api/v1/status/``: every service's status with the open incidents (internal view).

Reads need the view permissions every role has; writes go through ``comms.services``
(permission-checked, validated with field messages, audited).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident
from itsm.core.api.permissions import TokenScopePermission
from itsm.core.models import Team

from .. import cadence, selectors, services
from ..choices import Audience, ServiceStatus, UpdateStatus
from ..models import IncidentComms, StakeholderUpdate, Subscription


def _people():
    return get_user_model().objects.filter(is_active=True)


class CommsSerializer(serializers.Serializer):
    commander = serializers.SlugRelatedField(
        slug_field="username", queryset=_people(), allow_null=True, required=False
    )
    comms_lead = serializers.SlugRelatedField(
        slug_field="username", queryset=_people(), allow_null=True, required=False
    )
    responders = serializers.SlugRelatedField(
        slug_field="username", queryset=_people(), many=True, required=False
    )
    public_title = serializers.CharField(max_length=200, allow_blank=True, required=False)
    service_status = serializers.ChoiceField(
        choices=ServiceStatus.choices, allow_blank=True, required=False
    )
    next_update_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_update_at = serializers.DateTimeField(read_only=True, allow_null=True)


class UpdateSerializer(serializers.ModelSerializer):
    posted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    status = serializers.ChoiceField(choices=UpdateStatus.choices)
    audience = serializers.ChoiceField(choices=Audience.choices, default=Audience.INTERNAL)
    message_ja = serializers.CharField(
        max_length=5000, allow_blank=True, required=False, default=""
    )
    message_en = serializers.CharField(
        max_length=5000, allow_blank=True, required=False, default=""
    )

    class Meta:
        model = StakeholderUpdate
        fields = [
            "id",
            "status",
            "audience",
            "message_ja",
            "message_en",
            "posted_by",
            "posted_at",
            "recipients",
        ]
        read_only_fields = ["id", "posted_by", "posted_at", "recipients"]


class SubscriberSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(
        slug_field="username", queryset=_people(), allow_null=True, required=False
    )
    team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False
    )
    email = serializers.EmailField(allow_blank=True, required=False, default="")

    class Meta:
        model = Subscription
        fields = ["id", "user", "team", "email", "created_at"]
        read_only_fields = ["id", "created_at"]


def _incident(number: str) -> Incident:
    return get_object_or_404(Incident.objects.select_related("service"), number=number)


class _IncidentView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    read_perm = "comms.view_incidentcomms"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.has_perm(self.read_perm):
            self.permission_denied(request)


class CommsView(_IncidentView):
    @staticmethod
    def _data(incident: Incident) -> dict:
        comms = (
            IncidentComms.objects.select_related("commander", "comms_lead")
            .filter(incident=incident)
            .first()
        )
        due = cadence.update_due(incident, comms)
        return {
            "commander": comms.commander if comms else None,
            "comms_lead": comms.comms_lead if comms else None,
            "responders": list(comms.responders.all()) if comms else [],
            "public_title": comms.public_title if comms else "",
            "service_status": comms.service_status if comms else "",
            "next_update_due_at": due.due_at if due else None,
            "last_update_at": comms.last_update_at if comms else None,
        }

    @extend_schema(responses=CommsSerializer, summary="An incident's roles and update cadence")
    def get(self, request, number: str):
        return Response(CommsSerializer(self._data(_incident(number))).data)

    @extend_schema(
        request=CommsSerializer,
        responses=CommsSerializer,
        summary="Assign roles (hand over command) or set what the status page shows",
    )
    def patch(self, request, number: str):
        incident = _incident(number)
        given = CommsSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        roles = {k: data[k] for k in ("commander", "comms_lead", "responders") if k in data}
        if roles:
            services.assign_roles(incident, actor=request.user, **roles)
        if "public_title" in data or "service_status" in data:
            comms = services.comms_for(incident)
            services.set_public_status(
                incident,
                actor=request.user,
                service_status=data.get("service_status", comms.service_status),
                public_title=data.get("public_title", comms.public_title),
            )
        return Response(CommsSerializer(self._data(incident)).data)


class UpdatesView(_IncidentView):
    read_perm = "comms.view_stakeholderupdate"

    @extend_schema(
        responses=UpdateSerializer(many=True), summary="An incident's stakeholder updates"
    )
    def get(self, request, number: str):
        updates = _incident(number).stakeholder_updates.select_related("posted_by")
        return Response(UpdateSerializer(updates, many=True).data)

    @extend_schema(
        request=UpdateSerializer,
        responses={201: UpdateSerializer},
        summary="Post a stakeholder update (sent to every subscriber)",
    )
    def post(self, request, number: str):
        incident = _incident(number)
        given = UpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        update = services.post_update(incident, actor=request.user, **given.validated_data)
        return Response(UpdateSerializer(update).data, status=status.HTTP_201_CREATED)


class SubscribersView(_IncidentView):
    read_perm = "comms.view_subscription"

    @extend_schema(responses=SubscriberSerializer(many=True), summary="An incident's subscribers")
    def get(self, request, number: str):
        rows = Subscription.objects.filter(incident=_incident(number)).select_related(
            "user", "team"
        )
        return Response(SubscriberSerializer(rows, many=True).data)

    @extend_schema(
        request=SubscriberSerializer,
        responses={201: SubscriberSerializer},
        summary="Subscribe a person, a team or an email address to the incident's updates",
    )
    def post(self, request, number: str):
        incident = _incident(number)
        given = SubscriberSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = {k: v for k, v in given.validated_data.items() if v}
        sub = services.subscribe(actor=request.user, incident=incident, **data)
        return Response(SubscriberSerializer(sub).data, status=status.HTTP_201_CREATED)


class SubscriberView(_IncidentView):
    read_perm = "comms.view_subscription"

    @extend_schema(responses={204: None}, summary="Remove a subscriber")
    def delete(self, request, number: str, pk: int):
        sub = get_object_or_404(Subscription, pk=pk, incident=_incident(number))
        services.unsubscribe(sub, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StatusServiceSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    status = serializers.ChoiceField(choices=ServiceStatus.choices)
    public = serializers.BooleanField()


class StatusIncidentSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    priority = serializers.CharField()
    service = serializers.CharField(source="service_name")
    status = serializers.ChoiceField(choices=ServiceStatus.choices)
    phase = serializers.ChoiceField(choices=UpdateStatus.choices)
    started_at = serializers.DateTimeField()


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ServiceStatus.choices)
    services = StatusServiceSerializer(many=True)
    incidents = StatusIncidentSerializer(many=True, source="active")


class StatusView(_IncidentView):
    read_perm = "comms.view_stakeholderupdate"

    @extend_schema(responses=StatusSerializer, summary="Every service's status (internal)")
    def get(self, request):
        return Response(StatusSerializer(selectors.status_page(public=False)).data)
