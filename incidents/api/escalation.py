"""REST API of escalation (seed §8.4): the incident's escalation state and manual escalation.

- ``GET  /api/v1/incidents/<number>/escalation/``: level, next deadline, policy snapshot, steps.
- ``POST /api/v1/incidents/<number>/escalate/``: ``{"reason", "comment", "level"?}``.
- ``POST /api/v1/incidents/<number>/acknowledge/``: the caller acknowledges the incident's pages
  (paging stops; the response starts).
"""

from __future__ import annotations

from dataclasses import asdict

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.core.api.permissions import TokenScopePermission

from .. import acknowledgement, escalation
from ..models import (
    MANUAL_REASONS,
    AckChannel,
    EscalationStep,
    Incident,
    IncidentEscalation,
    Page,
)
from .serializers import choice


class EscalationStepSerializer(serializers.ModelSerializer):
    by = serializers.SerializerMethodField()

    class Meta:
        model = EscalationStep
        fields = [
            "key",
            "kind",
            "level",
            "from_level",
            "reason",
            "comment",
            "due_at",
            "applied_at",
            "by",
            "notified",
        ]
        read_only_fields = fields

    def get_by(self, obj) -> str | None:
        return obj.actor.username if obj.actor_id else None


class PageSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    step = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Page
        fields = [
            "step",
            "level",
            "user",
            "target",
            "created_at",
            "repeats",
            "next_repeat_at",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledged_via",
            "stopped_at",
        ]
        read_only_fields = fields


class EscalationStateSerializer(serializers.Serializer):
    number = serializers.CharField()
    escalation_level = serializers.IntegerField(allow_null=True)
    next_deadline_at = serializers.DateTimeField(allow_null=True)
    policy = serializers.CharField(allow_blank=True)
    clock_started_at = serializers.DateTimeField(allow_null=True)
    clock_stopped_at = serializers.DateTimeField(allow_null=True)
    response_breached_at = serializers.DateTimeField(allow_null=True)
    levels = serializers.ListField(child=serializers.DictField())
    steps = EscalationStepSerializer(many=True)
    pages = PageSerializer(many=True)
    response_started_at = serializers.DateTimeField(allow_null=True)


class EscalateSerializer(serializers.Serializer):
    reason = choice([(r.value, r.label) for r in MANUAL_REASONS])
    comment = serializers.CharField(max_length=5000)
    level = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=9,
        help_text="Target level; ops managers and above only. Default: one level up.",
    )


def _state(incident: Incident) -> dict:
    clock = IncidentEscalation.objects.filter(incident=incident).first()
    return {
        "number": incident.number,
        "escalation_level": incident.escalation_level,
        "next_deadline_at": incident.next_deadline_at,
        "policy": clock.policy_name if clock else "",
        "clock_started_at": clock.started_at if clock else None,
        "clock_stopped_at": clock.stopped_at if clock else None,
        "response_breached_at": clock.response_breached_at if clock else None,
        "levels": [asdict(level) for level in clock.policy_snapshot.levels] if clock else [],
        "steps": incident.escalation_steps.select_related("actor"),
        "pages": incident.pages.select_related("user", "acknowledged_by", "step"),
        "response_started_at": incident.response_started_at,
    }


def _incident(request, number: str) -> Incident:
    if not request.user.has_perm("incidents.view_incident"):
        raise PermissionDenied()
    return get_object_or_404(Incident, number=number)


class IncidentEscalationView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        responses=EscalationStateSerializer, summary="Escalation state and steps of an incident"
    )
    def get(self, request, number: str):
        incident = _incident(request, number)
        return Response(EscalationStateSerializer(_state(incident)).data)


class EscalateView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        request=EscalateSerializer,
        responses=EscalationStateSerializer,
        summary="Escalate an incident by hand (§8.4 reasons; level: ops manager or above)",
    )
    def post(self, request, number: str):
        incident = _incident(request, number)
        inp = EscalateSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        escalation.escalate_incident(incident, actor=request.user, **inp.validated_data)
        return Response(EscalationStateSerializer(_state(incident)).data)


class AcknowledgeView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        request=None,
        responses=EscalationStateSerializer,
        summary="Acknowledge an incident's pages (paging stops; counts as the response)",
    )
    def post(self, request, number: str):
        incident = get_object_or_404(Incident, number=number)
        acknowledgement.acknowledge_incident(incident, actor=request.user, via=AckChannel.API)
        return Response(EscalationStateSerializer(_state(incident)).data)
