from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.reverse import reverse

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
