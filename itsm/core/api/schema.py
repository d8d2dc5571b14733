"""OpenAPI post-processing: every operation documents the error bodies the API answers with.

drf-spectacular documents only the success responses; clients (and the schemathesis run in the
test suite, tests/test_api_fuzz.py) also need the errors of ``itsm.core.api.exceptions``, which all
share one shape: ``{"code": …, "detail": …}`` plus ``errors`` (field messages) on ``invalid`` and
the guard or transition named on lifecycle refusals.
"""

from __future__ import annotations

import copy

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "An error with a stable machine code (invalid, not_authenticated, authentication_failed, "
        "permission_denied, not_found, method_not_allowed, unsupported_media_type, throttled, "
        "guard_failed, transition_not_allowed, concurrent_update, …)."
    ),
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Field name → messages (code invalid).",
        },
        "guard": {"type": "string", "description": "The failed guard (code guard_failed)."},
    },
    "required": ["code", "detail"],
    "additionalProperties": True,
}

# Status → description, for every operation (a code an operation already documents is kept).
COMMON = {
    "400": "Invalid input: field messages under `errors`.",
    "401": "Missing or invalid credentials.",
    "403": "Not permitted for this user or token.",
    "404": "No such record.",
    "406": "The requested format is not available.",
    "429": "Too many requests.",
}
# Writes can also be refused by the record's state or a lifecycle rule, or by the body's format.
WRITES = {
    "400": "Invalid input (`errors`), or a failed guard (`code` guard_failed, `guard`).",
    "409": "Not possible in the record's current state, or changed concurrently.",
    "415": "Unsupported request body media type.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def add_error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOK: add the shared error responses to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = COMMON | (WRITES if method in WRITE_METHODS else {})
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": body}
                )
    return result


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, with read-only fields as empty as their model allows.

    A read-only serializer field (``SlugRelatedField(read_only=True)``, a ``read_only_fields``
    entry) does not carry ``allow_null``/``allow_blank``, so the schema promised a string where
    the API sends ``null`` (an unassigned incident), or one of an enum where it sends ``""`` (an
    untriaged incident's urgency). Here a response field takes them from its model field.
    """

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        model_field = _model_field(field) if direction == "response" else None
        if model_field is not None and (
            (model_field.null and not getattr(field, "allow_null", False))
            or (model_field.blank and not getattr(field, "allow_blank", True))
        ):
            field = copy.copy(field)
            field.allow_null = field.allow_null or model_field.null
            if hasattr(field, "allow_blank"):
                field.allow_blank = field.allow_blank or model_field.blank
        meta = super()._map_serializer_field(field, direction, bypass_extensions)
        if getattr(field, "allow_blank", False) and meta.get("format") in {"uri", "email"}:
            # "" is not a URI: a blank URL field is documented as "" or a URI.
            nullable = meta.pop("nullable", None)
            meta = {"anyOf": [meta, {"type": "string", "enum": [""]}]}
            if nullable:
                meta["nullable"] = True
        return meta


def _model_field(field):
    """The model field a serializer field reads (a plain attribute of the serializer's model)."""
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    source = getattr(field, "source", None)
    if model is None or not source or source == "*" or "." in source:
        return None
    try:
        return model._meta.get_field(source)
    except FieldDoesNotExist:
        return None
