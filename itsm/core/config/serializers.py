"""The serializer of each configuration resource, generated from its declaration.

Relations are written and read as their targets' natural keys (``owner_team: sre``), never as
database ids, so the same document works in the API, in a YAML file and in another database.
"""

from __future__ import annotations

import functools

from django.db import models
from rest_framework import serializers

from ..api import fields
from . import registry
from .registry import Child, ConfigResource, Ref


def _ref_field(model, name: str, ref: Ref, *, many: bool = False) -> serializers.Field:
    source = ref.source or name
    model_field = model._meta.get_field(source)
    if many:
        return serializers.SlugRelatedField(
            slug_field=ref.key,
            queryset=ref.queryset(),
            many=True,
            required=False,
            source=None if source == name else source,
        )
    optional = model_field.null or model_field.has_default()
    return serializers.SlugRelatedField(
        slug_field=ref.key,
        queryset=ref.queryset(),
        allow_null=model_field.null,
        required=not optional,
        source=None if source == name else source,
    )


class ConfigModelSerializer(serializers.ModelSerializer):
    """Date-times from 1900 on (RFC 3339 offsets), times of day as ``HH:MM[:SS]``."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: fields.DateTimeField,
        models.TimeField: fields.TimeOfDayField,
    }


def _model_serializer(model, names: list[str], extra: dict, *, write_only=(), title: str):
    meta = type(
        "Meta",
        (),
        {
            "model": model,
            "fields": names,
            "extra_kwargs": {name: {"write_only": True} for name in write_only},
        },
    )
    return type(title, (ConfigModelSerializer,), {**extra, "Meta": meta})


def _child_serializer(child: Child, title: str):
    from django.apps import apps

    model = apps.get_model(child.model)
    extra = {name: _ref_field(model, name, ref) for name, ref in child.refs.items()}
    return _model_serializer(model, [*child.fields, *child.refs], extra, title=title)


class OrderedRows(serializers.ListSerializer):
    """A parent's children (levels, rules …), read in their declared order."""

    def __init__(self, *args, order: tuple[str, ...] = ("pk",), **kwargs):
        self.order = order
        super().__init__(*args, **kwargs)

    def to_representation(self, data):
        if isinstance(data, models.Manager):
            data = data.order_by(*self.order)
        return [dict(row) for row in super().to_representation(data)]


def config_serializer(resource: ConfigResource) -> type[serializers.ModelSerializer]:
    """The generated serializer (built once per resource)."""
    return _generated(resource.name)


@functools.cache
def _generated(name: str) -> type[serializers.ModelSerializer]:
    resource = registry.resource(name)
    model = resource.model_class
    title = f"{model.__name__}Config"
    extra: dict = {}
    for name, ref in resource.refs.items():
        extra[name] = _ref_field(model, name, ref)
    for name, ref in resource.many.items():
        extra[name] = _ref_field(model, name, ref, many=True)
    for child in resource.children:
        child_title = f"{title}{child.related_name.title().replace('_', '')}"
        child_class = child.serializer or _child_serializer(child, child_title)
        extra[child.related_name] = OrderedRows(
            child=child_class(), order=child.order, required=False
        )
    names = [
        *resource.key,
        *resource.fields,
        *resource.refs,
        *resource.many,
        *(child.related_name for child in resource.children),
    ]
    return _model_serializer(
        model, list(dict.fromkeys(names)), extra, write_only=resource.write_only, title=title
    )


def serializer_class(resource: ConfigResource) -> type[serializers.Serializer]:
    """The resource's own serializer when it declares one, else the generated one."""
    return resource.serializer(resource) if resource.serializer else config_serializer(resource)


def represent(resource: ConfigResource, instance) -> dict:
    """The record as the API and a YAML file show it (no database id, children in order)."""
    data = dict(serializer_class(resource)(instance).data)
    for (
        name
    ) in resource.many:  # a set of natural keys: sorted, so the same data gives the same bytes
        data[name] = sorted(data.get(name) or [], key=str)
    return {name: value for name, value in data.items() if name not in resource.write_only}
