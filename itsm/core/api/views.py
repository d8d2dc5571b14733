from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.reverse import reverse

from ..models import (
    ChatFormat,
    NotificationChannel,
    Urgency,
    validate_time_zone,
    validate_web_url,
)
from ..roles import role_names


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    language = serializers.CharField()


@extend_schema(responses=MeSerializer, summary="The authenticated user and their roles")
@api_view(["GET"])
def me(request):
    user = request.user
    return Response(
        {
            "username": user.username,
            "display_name": str(user),
            "roles": sorted(role_names(user)),
            "language": user.language,
        }
    )


@extend_schema(exclude=True)
@api_view(["GET"])
def api_root(request):
    """Entry point: where the resources, the schema and the docs are."""
    return Response(
        {
            "me": reverse("api:me", request=request),
            "schema": reverse("schema", request=request),
            "docs": reverse("swagger-ui", request=request),
        }
    )


class NotificationRuleSerializer(serializers.Serializer):
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    channel = serializers.ChoiceField(
        choices=[NotificationChannel.IN_APP, NotificationChannel.EMAIL, NotificationChannel.CHAT]
    )
    delay_minutes = serializers.IntegerField(min_value=0, max_value=1440)


class NotificationSettingsSerializer(serializers.Serializer):
    email = serializers.BooleanField()
    quiet_start = serializers.TimeField(allow_null=True)
    quiet_end = serializers.TimeField(allow_null=True)
    time_zone = serializers.CharField(max_length=64, validators=[validate_time_zone])
    chat_webhook_url = serializers.URLField(
        max_length=500, allow_blank=True, validators=[validate_web_url]
    )
    chat_format = serializers.ChoiceField(choices=ChatFormat.choices)
    rules = NotificationRuleSerializer(many=True)

    def validate(self, attrs):
        if (attrs.get("quiet_start") is None) != (attrs.get("quiet_end") is None):
            raise serializers.ValidationError(
                {"quiet_end": [_("Give both ends of the quiet hours, or neither.")]}
            )
        return attrs


@extend_schema(
    methods=["GET"], responses=NotificationSettingsSerializer, summary="My notification settings"
)
@extend_schema(
    methods=["PUT"],
    request=NotificationSettingsSerializer,
    responses=NotificationSettingsSerializer,
    summary="Replace my notification settings (rules per urgency, quiet hours, personal chat)",
)
@api_view(["GET", "PUT"])
def notification_settings(request):
    from ..notifications import notification_settings as current
    from ..notifications import save_notification_settings

    if request.method == "PUT":
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("Expected a JSON object.")]})
        inp = NotificationSettingsSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        data = dict(inp.validated_data)
        rules = [dict(rule) for rule in data.pop("rules")]
        save_notification_settings(request.user, rules_list=rules, **data)
    return Response(NotificationSettingsSerializer(current(request.user)).data)
