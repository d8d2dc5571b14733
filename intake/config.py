"""Monitoring integrations as configuration: created with a secret shown once, rotated and
revoked through the configuration API; their mapping rules are edited with them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from itsm.core.config import Child, ConfigResource, Ref, register
from itsm.core.config.services import validate_record

from . import services
from .models import Integration

_FIELDS = (
    "kind",
    "description",
    "is_active",
    "default_priority",
    "auto_recover",
    "rate_limit_per_minute",
    "storm_threshold",
    "storm_window_minutes",
    "delivery_retention_days",
)


def _save(integration, data: dict, *, actor, created: bool) -> Integration:
    """New: issued a secret (kept on ``issued_secret`` to be shown once) and, until rules are
    given, the default severity rules. Existing: its settings, audited."""
    if created:
        integration, secret = services.add_integration(Integration(**data), actor=actor)
        integration.issued_secret = secret
        return integration
    for name, value in data.items():
        setattr(integration, name, value)
    validate_record(integration, set(data))
    return services.update_integration(integration, actor=actor, changed=list(data))


_SECRET = inline_serializer(
    "IntegrationSecret", {"name": serializers.CharField(), "secret": serializers.CharField()}
)


class IntegrationActions:
    """``rotate/`` issues a new secret (the old one stops at once); ``revoke/`` stops it."""

    def represent(self, instance) -> dict:
        data = super().represent(instance)
        if getattr(instance, "issued_secret", None):
            data["secret"] = instance.issued_secret  # shown once, in the answer to the create
        return data

    @extend_schema(
        request=None,
        responses=_SECRET,
        tags=["configuration"],
        summary="Issue a new secret (shown once)",
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, key=None):
        integration = self.get_object()
        secret = services.rotate_secret(integration, actor=request.user)
        return Response({"name": integration.name, "secret": secret})

    @extend_schema(
        request=None, tags=["configuration"], summary="Revoke the secret (deliveries are refused)"
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, key=None):
        integration = services.revoke_secret(self.get_object(), actor=request.user)
        return Response(self.represent(integration))


INTEGRATIONS = register(
    ConfigResource(
        name="integrations",
        model="intake.Integration",
        key=("name",),
        fields=_FIELDS,
        refs={"service": Ref("core.Service"), "team": Ref("core.Team")},
        children=(
            Child(
                related_name="rules",
                model="intake.MappingRule",
                parent="integration",
                fields=(
                    "order",
                    "label",
                    "value",
                    "priority",
                    "impact_scope",
                    "business_impact",
                    "urgency",
                ),
                refs={"service": Ref("core.Service")},
                order=("order", "pk"),
            ),
        ),
        save=_save,
        viewset_mixin=IntegrationActions,
        order=60,
        description=(
            "Monitoring integrations (Alertmanager, Grafana, Events v2) and their mapping rules. "
            "The secret is in the answer to the create only; `rotate/` issues a new one."
        ),
    )
)
