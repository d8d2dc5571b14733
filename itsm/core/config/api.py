"""``/api/v1/config/<resource>/``: list, read, create, update and delete what an administrator
sets up, one generated viewset per registered resource. Records are addressed by their natural
key (``/api/v1/config/teams/sre/``); resources with a composite key by ``a,b`` in key order."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from ..api.mixins import ServiceCreateMixin, ServiceDestroyMixin, ServiceUpdateMixin
from ..api.permissions import TokenScopePermission
from ..roles import Role, has_role
from .registry import ConfigResource, resources
from .serializers import represent, serializer_class
from .services import delete_config, save_config

KEY_SEPARATOR = ","


class ConfigPermission(permissions.BasePermission):
    """Administrators, and the roles the resource names as its editors (the ops manager for the
    tables the seed gives to operations), read and write configuration."""

    message = _("Only administrators may change this configuration.")

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, Role.ADMIN, *view.resource.editors)


class _ConfigViewSet(
    ServiceCreateMixin,
    ServiceUpdateMixin,
    ServiceDestroyMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    resource: ConfigResource
    permission_classes = [permissions.IsAuthenticated, TokenScopePermission, ConfigPermission]
    lookup_field = "key"
    lookup_value_regex = "[^/]+"
    filter_backends: list = []

    def get_queryset(self):
        return self.resource.get_queryset().order_by(*self.resource.key)

    def get_serializer_class(self):
        return serializer_class(self.resource)

    def get_object(self):
        parts = self.kwargs["key"].split(KEY_SEPARATOR)
        if len(parts) != len(self.resource.key):
            raise Http404
        try:
            instance = self.get_queryset().get(**dict(zip(self.resource.key, parts, strict=True)))
        except (self.resource.model_class.DoesNotExist, ValueError, ValidationError) as exc:
            raise Http404 from exc
        self.check_object_permissions(self.request, instance)
        return instance

    def represent(self, instance) -> dict:
        return represent(self.resource, instance)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([represent(self.resource, obj) for obj in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(represent(self.resource, self.get_object()))

    def create_record(self, data: dict):
        return save_config(self.resource, data, actor=self.request.user)

    def update_record(self, instance, data: dict):
        return save_config(self.resource, data, actor=self.request.user, instance=instance)

    def delete_record(self, instance) -> None:
        delete_config(self.resource, instance, actor=self.request.user)


def config_viewset(resource: ConfigResource) -> type[viewsets.GenericViewSet]:
    model = resource.model_class
    plural = str(model._meta.verbose_name_plural)
    bases = (
        (resource.viewset_mixin, _ConfigViewSet) if resource.viewset_mixin else (_ConfigViewSet,)
    )
    viewset = type(
        f"{model.__name__}ConfigViewSet",
        bases,
        {"resource": resource, "__doc__": resource.description or f"Configuration: {plural}."},
    )
    tag = "configuration"
    return extend_schema_view(
        list=extend_schema(tags=[tag], summary=f"List {plural}"),
        retrieve=extend_schema(tags=[tag], summary=f"Read one of the {plural}"),
        create=extend_schema(tags=[tag], summary=f"Create one of the {plural}"),
        update=extend_schema(tags=[tag], summary=f"Replace one of the {plural}"),
        partial_update=extend_schema(tags=[tag], summary=f"Change one of the {plural}"),
        destroy=extend_schema(tags=[tag], summary=f"Delete one of the {plural}"),
    )(viewset)


def urls() -> list:
    router = SimpleRouter()
    for resource in resources():
        router.register(
            f"config/{resource.name}", config_viewset(resource), basename=f"config-{resource.name}"
        )
    return router.urls
