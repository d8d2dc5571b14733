"""REST API of the resolution clock (issue 18 part 2).

- ``POST /api/v1/incidents/<number>/hold/``: ``{"reason", "until"?, "comment"?}`` pauses the
  resolution clock (a record beside the incident: its state does not change, docs/sla.md).
- ``POST /api/v1/incidents/<number>/resume/``: resumes it.
- ``GET  /api/v1/incidents/<number>/sla/``: the explanation (``incidents.sla.explain``).

Reads: whoever may view incidents; writes: whoever may change them (checked by the use cases).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.core.api.permissions import TokenScopePermission

from .. import holds, sla
from ..choices import HoldReason
from ..models import Incident


class HoldSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    reason = serializers.ChoiceField(choices=HoldReason.choices)
    until = serializers.DateTimeField(source="ends_at_planned", required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    started_at = serializers.DateTimeField(read_only=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)


class IntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    counted = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=[sla.COUNTED, sla.OUTSIDE_HOURS, sla.HOLIDAY, sla.ON_HOLD]
    )
    detail = serializers.CharField(help_text="the holiday's name or the hold's reason")
    label = serializers.CharField()
    seconds = serializers.SerializerMethodField()

    def get_seconds(self, interval) -> float:
        return interval.duration.total_seconds()


class ExplanationSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="the resolution clock's start (clock_from)")
    end = serializers.DateTimeField(help_text="recovery, or now")
    recovered = serializers.BooleanField()
    on_hold = serializers.BooleanField()
    clock = serializers.SerializerMethodField()
    target_minutes = serializers.IntegerField(allow_null=True)
    counted_seconds = serializers.SerializerMethodField(help_text="= elapsed SLA time")
    paused_seconds = serializers.SerializerMethodField()
    counted_minutes = serializers.FloatField()
    paused_minutes = serializers.FloatField()
    due_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField()
    intervals = IntervalSerializer(many=True)

    def get_clock(self, explanation) -> str | None:
        return explanation.target.clock if explanation.target else None

    def get_counted_seconds(self, explanation) -> float:
        return explanation.counted.total_seconds()

    def get_paused_seconds(self, explanation) -> float:
        return explanation.paused.total_seconds()


class _Base(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.has_perm("incidents.view_incident"):
            self.permission_denied(request)


class HoldView(_Base):
    @extend_schema(
        request=HoldSerializer,
        responses={201: HoldSerializer},
        summary="Put the incident on hold: pause its resolution clock (not the response target)",
    )
    def post(self, request, number: str):
        incident = get_object_or_404(Incident, number=number)
        given = HoldSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        hold = holds.put_on_hold(
            incident,
            actor=request.user,
            reason=given.validated_data["reason"],
            until=given.validated_data.get("ends_at_planned"),
            comment=given.validated_data.get("comment", ""),
        )
        return Response(HoldSerializer(hold).data, status=status.HTTP_201_CREATED)


class ResumeView(_Base):
    @extend_schema(request=None, responses={200: HoldSerializer}, summary="End the running hold")
    def post(self, request, number: str):
        incident = get_object_or_404(Incident, number=number)
        hold = holds.end_hold(incident, actor=request.user)
        return Response(HoldSerializer(hold).data)


class SlaView(_Base):
    @extend_schema(
        responses=ExplanationSerializer,
        summary="The resolution clock explained: counted and paused intervals, due, status",
    )
    def get(self, request, number: str):
        incident = get_object_or_404(Incident.objects.prefetch_related("holds"), number=number)
        return Response(ExplanationSerializer(sla.explain(incident)).data)
