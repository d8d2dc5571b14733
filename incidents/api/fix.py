"""REST API of the root-cause fix (§8.2 復旧作業 vs 修正作業, issue 18 part 3).

- ``POST /api/v1/incidents/<number>/fix/``: ``{"at"?, "change"?, "comment"?}`` records when the
  root cause was removed (``incidents.fix.record_fix``); 400 with field messages for bad input,
  403 without the right to work incidents, 409 when a fix is already recorded.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.core.api.permissions import TokenScopePermission

from .. import fix
from ..choices import FixStatus
from ..models import Incident


class FixInputSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, help_text="When the root cause was removed; default now."
    )
    change = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=fix.MAX_CHANGE_NUMBER,
        help_text="e.g. CHG-000123",
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class FollowUpSerializer(serializers.Serializer):
    title = serializers.CharField()
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    due_date = serializers.DateField(allow_null=True)
    change_number = serializers.CharField()
    done_at = serializers.DateTimeField(allow_null=True)


class FixSerializer(serializers.Serializer):
    number = serializers.CharField()
    recovered_at = serializers.DateTimeField(allow_null=True)
    fix_status = serializers.ChoiceField(choices=FixStatus.choices, allow_blank=True)
    fixed_at = serializers.DateTimeField(allow_null=True)
    fix_change = serializers.CharField()
    follow_ups = FollowUpSerializer(source="fix_follow_ups.all", many=True)


class FixView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.has_perm("incidents.view_incident"):
            self.permission_denied(request)

    @extend_schema(responses=FixSerializer, summary="Recovery versus fix of an incident")
    def get(self, request, number: str):
        return Response(FixSerializer(get_object_or_404(Incident, number=number)).data)

    @extend_schema(
        request=FixInputSerializer,
        responses={200: FixSerializer},
        summary="Record the root-cause fix (after recovery, possibly after the close)",
    )
    def post(self, request, number: str):
        incident = get_object_or_404(Incident, number=number)
        if not fix.may_record_fix(request.user):
            self.permission_denied(request)
        given = FixInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        fix.record_fix(
            incident,
            actor=request.user,
            at=given.validated_data.get("at"),
            change_number=given.validated_data.get("change", ""),
            comment=given.validated_data.get("comment", ""),
        )
        return Response(FixSerializer(Incident.objects.get(pk=incident.pk)).data)
