"""Reusable API building blocks: writes through services, lifecycle transitions, idempotent
creates, read-only state."""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import workflow
from ..models import IdempotencyRecord

# The one way an API write happens, in every app (issue 15): the request is validated by the
# action's serializer (``get_serializer_class``), then one of the app's services writes — never
# ``serializer.save()`` — and the answer is the record as ``serializer_class`` shows it. Like
# DRF's mixins, a viewset takes the ones it allows and implements, each as a call to one service
# (which checks permissions, audits and writes in one transaction):
#
# - ``ServiceCreateMixin``: ``create_record(data) -> instance`` for POST (below
#   ``IdempotentCreateMixin``, so retried creates replay the first response);
# - ``ServiceUpdateMixin``: ``update_record(instance, data) -> instance`` for PATCH and PUT;
# - ``ServiceDestroyMixin``: ``delete_record(instance)`` for DELETE.


def _json_object(request) -> None:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": [_("Expected a JSON object.")]})


class _Represent:
    def represent(self, instance) -> dict:
        """The record as the resource shows it (``serializer_class``), after a write."""
        return self.serializer_class(instance, context=self.get_serializer_context()).data


class ServiceCreateMixin(_Represent):
    def create(self, request, *args, **kwargs):
        _json_object(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_record(dict(serializer.validated_data))
        return Response(self.represent(instance), status=status.HTTP_201_CREATED)


class ServiceUpdateMixin(_Represent):
    def update(self, request, *args, **kwargs):
        return self._update(request, partial=kwargs.pop("partial", False))

    def partial_update(self, request, *args, **kwargs):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        _json_object(request)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.update_record(instance, dict(serializer.validated_data))
        return Response(self.represent(instance))


class ServiceDestroyMixin:
    def destroy(self, request, *args, **kwargs):
        self.delete_record(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TransitionOptionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())
    comment_required = serializers.BooleanField()
    available = serializers.BooleanField()
    blocked_by = serializers.ListField(child=serializers.DictField())
    permitted = serializers.BooleanField(
        help_text="False only with ?include=unavailable: the caller may not take it (see reason)."
    )
    reason = serializers.CharField(
        help_text="Why it cannot be taken now (who may take it, or the first blocking guard)."
    )


class TransitionRequestSerializer(serializers.Serializer):
    transition = serializers.CharField(max_length=64)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)


class TransitionsMixin:
    """``GET/POST <resource>/<number>/transitions/`` for a viewset over an FSM model.

    GET lists the transitions the caller may take now (with the guards blocking any of them);
    POST ``{"transition": name, "comment": "…", …fields}`` applies one through
    :func:`itsm.core.workflow.perform`, so registered services run for API callers too.
    Errors: 409 not possible in this state or concurrent change, 403 not permitted,
    400 failed guard (``{"code": "guard_failed", "guard": name}``) or invalid fields.
    """

    @extend_schema(
        methods=["GET"],
        responses=TransitionOptionSerializer(many=True),
        parameters=[
            OpenApiParameter(
                "include",
                str,
                enum=["unavailable"],
                required=False,
                description=(
                    "`unavailable`: also list the transitions the caller may not take, with "
                    "`permitted: false` and the `reason` (who may take them)."
                ),
            )
        ],
        summary="Transitions the caller may take now",
    )
    @extend_schema(
        methods=["POST"],
        request=inline_serializer(
            "TransitionRequest",
            {
                "transition": serializers.CharField(),
                "comment": serializers.CharField(required=False),
            },
        ),
        summary="Apply a transition (extra fields per transition as listed by GET)",
    )
    # One record's options: neither paginated nor filtered like the list it hangs off.
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="transitions",
        pagination_class=None,
        filter_backends=[],
    )
    def transitions(self, request, *args, **kwargs):
        instance = self.get_object()
        if request.method == "GET":
            include = request.query_params.get("include", "")
            if include not in ("", "unavailable"):
                raise serializers.ValidationError({"include": [_("Allowed value: “unavailable”.")]})
            options = workflow.options_for(
                instance, request.user, include_forbidden=include == "unavailable"
            )
            data = [
                {
                    "name": o.name,
                    "label": o.label,
                    "target": o.target,
                    "fields": list(o.fields),
                    "comment_required": o.comment_required,
                    "available": o.available,
                    "blocked_by": list(o.blocked_by),
                    "permitted": o.permitted,
                    "reason": o.reason,
                }
                for o in options
            ]
            return Response(data)
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("Expected a JSON object.")]})
        req = TransitionRequestSerializer(data=request.data)
        req.is_valid(raise_exception=True)
        extra = {k: v for k, v in request.data.items() if k not in ("transition", "comment")}
        instance = workflow.perform(
            instance,
            req.validated_data["transition"],
            actor=request.user,
            comment=req.validated_data["comment"],
            data=extra,
        )
        return Response(self.get_serializer(instance).data)


class StateReadOnlyMixin:
    """Serializer mixin: a write naming the state field is refused (use transitions)."""

    state_field_name = "state"

    def validate(self, attrs):
        if isinstance(self.initial_data, dict) and self.state_field_name in self.initial_data:
            if self.instance is not None or self.initial_data.get(self.state_field_name):
                raise serializers.ValidationError(
                    {self.state_field_name: [_("The state changes only through /transitions/.")]},
                    code="state_read_only",
                )
        return super().validate(attrs)


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retry-safe create: a repeated key returns the first response.",
)


class IdempotentCreateMixin:
    """``Idempotency-Key`` on POST creates: a retry returns the first response, not a duplicate.

    The record and the stored response commit together; a concurrent retry racing the first
    request loses on the unique key and replays the winner's response. A key reused with a
    different body is refused (422), as Stripe does.
    """

    def create(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or not request.user.is_authenticated:
            return super().create(request, *args, **kwargs)
        if len(key) > 255:
            raise serializers.ValidationError({"Idempotency-Key": [_("At most 255 characters.")]})
        digest = hashlib.sha256(
            json.dumps(request.data, sort_keys=True, default=str).encode()
        ).hexdigest()
        lookup = {"user": request.user, "key": key, "path": request.path[:255]}
        replay = self._replay(lookup, digest)
        if replay is not None:
            return replay
        try:
            with transaction.atomic():
                response = super().create(request, *args, **kwargs)
                IdempotencyRecord.objects.create(
                    **lookup,
                    request_digest=digest,
                    status_code=response.status_code,
                    response=json.loads(json.dumps(response.data, default=str)),
                )
        except IntegrityError:
            replay = self._replay(lookup, digest)
            if replay is None:
                raise
            return replay
        return response

    @staticmethod
    def _replay(lookup: dict, digest: str) -> Response | None:
        record = IdempotencyRecord.objects.filter(**lookup).first()
        if record is None:
            return None
        if record.request_digest != digest:
            return Response(
                {
                    "code": "idempotency_key_reused",
                    "detail": _("This Idempotency-Key was used with a different request body."),
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        return Response(
            record.response, status=record.status_code, headers={"Idempotent-Replayed": "true"}
        )
