"""REST API of on-call (issue 16 §2, §7).

- ``GET /api/v1/oncall/?team=<slug>&at=<ISO time>``: for each team (repeatable; none = all) and
  each escalation level, who is on call at that instant and until when.
- ``/api/v1/oncall/schedules/`` (by slug), ``…/schedules/<slug>/shifts/?start=&end=`` (the final
  shifts, gaps included), ``/api/v1/oncall/layers/`` (``members``: usernames in rotation order)
  and ``/api/v1/oncall/overrides/``. Reads: everyone signed in; writes: team leads (ops leader
  and above), through ``oncall.services`` (validated, audited).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.core.api.mixins import ServiceCreateMixin, ServiceDestroyMixin, ServiceUpdateMixin
from itsm.core.api.permissions import ModelPermissions, TokenScopePermission
from itsm.core.models import Team

from .. import selectors, services
from ..models import Layer, Override, Schedule
from ..rotation import final_shifts

MAX_SHIFT_RANGE = timedelta(days=92)


def _people():
    return get_user_model().objects.filter(is_active=True)


class PersonSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()


class OnCallPersonSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()
    until = serializers.DateTimeField()
    override = serializers.BooleanField()


class OnCallLevelSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    schedule = serializers.CharField()
    on_call = OnCallPersonSerializer(many=True)
    gap = serializers.BooleanField()


class OnCallTeamSerializer(serializers.Serializer):
    team = serializers.CharField()
    name = serializers.CharField()
    levels = OnCallLevelSerializer(many=True)


class OnCallAnswerSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    teams = OnCallTeamSerializer(many=True)


class OnCallQuerySerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False)
    team = serializers.ListField(child=serializers.SlugField(max_length=100), required=False)

    def validate_at(self, value):
        if not 2000 <= value.year <= 2100:
            raise serializers.ValidationError(_("Give a time between the years 2000 and 2100."))
        return value


def _person(shift) -> dict:
    return {
        "username": shift.user.username,
        "display_name": str(shift.user),
        "until": _iso(shift.end),
        "override": shift.is_override,
    }


class OnCallView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        parameters=[
            OpenApiParameter("team", OpenApiTypes.STR, many=True, description="team slug(s)"),
            OpenApiParameter("at", OpenApiTypes.DATETIME, description="default: now"),
        ],
        responses=OnCallAnswerSerializer,
        summary="Who is on call, per team and escalation level",
    )
    def get(self, request):
        query = OnCallQuerySerializer(
            data={"team": request.query_params.getlist("team"), **_single(request, "at")}
        )
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or timezone.now()
        slugs = query.validated_data.get("team") or []
        teams = Team.objects.order_by("escalation_level", "name")
        if slugs:
            teams = list(teams.filter(slug__in=slugs))
            unknown = sorted(set(slugs) - {t.slug for t in teams})
            if unknown:
                raise serializers.ValidationError(
                    {"team": [_("Unknown team: %(slugs)s") % {"slugs": ", ".join(unknown)}]}
                )
        else:
            teams = list(teams.filter(schedules__is_active=True).distinct())
        levels = selectors.teams_on_call(teams, at)
        # Built as plain data (not through nested serializers): 100 teams answer in one request.
        answer = {
            "at": _iso(at),
            "teams": [
                {
                    "team": team.slug,
                    "name": team.name,
                    "levels": [
                        {
                            "level": row["level"],
                            "schedule": row["schedule"].slug,
                            "on_call": [_person(s) for s in row["shifts"]],
                            "gap": not row["shifts"],
                        }
                        for row in levels[team.pk]
                    ],
                }
                for team in teams
            ],
        }
        return Response(answer)


def _iso(moment) -> str:
    """As the API writes every time: ISO 8601 in the portal's time zone."""
    return timezone.localtime(moment).isoformat()


def _single(request, *names) -> dict:
    return {n: request.query_params[n] for n in names if n in request.query_params}


# ---------------------------------------------------------------------------- schedules


class ScheduleSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())

    class Meta:
        model = Schedule
        fields = ["id", "slug", "name", "team", "level", "time_zone", "description", "is_active"]
        read_only_fields = ["id"]


class ShiftSerializer(serializers.Serializer):
    username = serializers.CharField(allow_null=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    override = serializers.BooleanField()
    layer = serializers.CharField()
    gap = serializers.BooleanField()


class ShiftQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        for name in ("start", "end"):
            if name in attrs and not 2000 <= attrs[name].year <= 2100:
                raise serializers.ValidationError(
                    {name: [_("Give a time between the years 2000 and 2100.")]}
                )
        start = attrs.get("start") or timezone.now()
        end = attrs.get("end") or start + timedelta(days=14)
        if end <= start:
            raise serializers.ValidationError({"end": [_("The end must be after the start.")]})
        if end - start > MAX_SHIFT_RANGE:
            raise serializers.ValidationError({"end": [_("At most 92 days at a time.")]})
        return {"start": start, "end": end}


class _Writes(ServiceCreateMixin, ServiceUpdateMixin, ServiceDestroyMixin):
    permission_classes = [IsAuthenticated, TokenScopePermission, ModelPermissions]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


class ScheduleViewSet(
    _Writes, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """On-call schedules: a team's rotation for one escalation level."""

    queryset = Schedule.objects.select_related("team").order_by("team__name", "level", "name")
    serializer_class = ScheduleSerializer
    lookup_field = "slug"
    filterset_fields = ["team__slug", "level", "is_active"]

    def create_record(self, data):
        return services.save_schedule(actor=self.request.user, **data)

    def update_record(self, schedule, data):
        return services.save_schedule(actor=self.request.user, schedule=schedule, **data)

    def delete_record(self, schedule):
        services.delete_schedule(schedule, actor=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, description="default: now"),
            OpenApiParameter("end", OpenApiTypes.DATETIME, description="default: start + 14 d"),
        ],
        responses=ShiftSerializer(many=True),
        summary="The final shifts of a schedule over a range (gaps included)",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def shifts(self, request, slug=None):
        schedule = self.get_object()
        query = ShiftQuerySerializer(data=_single(request, "start", "end"))
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        [loaded] = selectors.load([schedule], start=start, end=end)
        rows = [
            {
                "username": s.user.username if s.user else None,
                "start": s.start,
                "end": s.end,
                "override": s.is_override,
                "layer": s.layer,
                "gap": s.is_gap,
            }
            for s in final_shifts(loaded, start, end)
        ]
        return Response(ShiftSerializer(rows, many=True).data)


# ---------------------------------------------------------------------------- layers


class LayerSerializer(serializers.ModelSerializer):
    schedule = serializers.SlugRelatedField(slug_field="slug", queryset=Schedule.objects.all())
    members = serializers.ListField(
        child=serializers.CharField(max_length=150),
        allow_empty=False,
        help_text="usernames in rotation order",
        write_only=True,
    )

    class Meta:
        model = Layer
        fields = [
            "id",
            "schedule",
            "name",
            "priority",
            "rotation",
            "length_days",
            "handoff_time",
            "start_date",
            "restriction",
            "members",
        ]
        read_only_fields = ["id"]

    def to_representation(self, instance) -> dict:
        data = super().to_representation(instance)
        data["members"] = [m.user.username for m in instance.rotation_members.all()]
        return data

    def validate_members(self, usernames):
        people = {u.username: u for u in _people().filter(username__in=usernames)}
        unknown = [name for name in usernames if name not in people]
        if unknown:
            raise serializers.ValidationError(
                _("Unknown or inactive people: %(names)s") % {"names": ", ".join(unknown)}
            )
        return [people[name] for name in usernames]

    def validate(self, attrs):
        if self.instance is not None and "schedule" in attrs:
            if attrs["schedule"].pk != self.instance.schedule_id:
                raise serializers.ValidationError(
                    {"schedule": [_("A layer cannot move to another schedule.")]}
                )
        return attrs


class LayerViewSet(
    _Writes, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Layers (rotations) of the schedules; ``?schedule=<slug>``."""

    queryset = Layer.objects.select_related("schedule").prefetch_related("rotation_members__user")
    serializer_class = LayerSerializer
    filterset_fields = {"schedule__slug": ["exact"]}

    def create_record(self, data):
        schedule = data.pop("schedule")
        return services.save_layer(actor=self.request.user, schedule=schedule, **data)

    def update_record(self, layer, data):
        data.pop("schedule", None)
        return services.save_layer(actor=self.request.user, layer=layer, **data)

    def delete_record(self, layer):
        services.delete_layer(layer, actor=self.request.user)


# ---------------------------------------------------------------------------- overrides


class OverrideSerializer(serializers.ModelSerializer):
    schedule = serializers.SlugRelatedField(slug_field="slug", queryset=Schedule.objects.all())
    user = serializers.SlugRelatedField(slug_field="username", queryset=_people())
    replaces = serializers.SlugRelatedField(
        slug_field="username", queryset=_people(), required=False, allow_null=True
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Override
        fields = [
            "id",
            "schedule",
            "user",
            "replaces",
            "start",
            "end",
            "reason",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_by", "created_at"]


class OverrideViewSet(
    ServiceCreateMixin,
    ServiceDestroyMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Overrides: a person on call for a time range (``?schedule=<slug>``); create or delete."""

    permission_classes = [IsAuthenticated, TokenScopePermission, ModelPermissions]
    queryset = Override.objects.select_related("schedule", "user", "replaces", "created_by")
    serializer_class = OverrideSerializer
    filterset_fields = {"schedule__slug": ["exact"]}
    http_method_names = ["get", "post", "delete", "head", "options"]

    def create_record(self, data):
        return services.add_override(actor=self.request.user, **data)

    def delete_record(self, override):
        services.delete_override(override, actor=self.request.user)
