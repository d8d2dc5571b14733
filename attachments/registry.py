"""Which records take attachments, and who may see, add and delete them.

The app that owns a record registers it from its ``AppConfig.ready()`` with the same checks its
own pages use, so "served only to users allowed to see the record" means what the record's page
means::

    from attachments import registry

    registry.register(
        Incident,
        key="incident",
        can_view=lambda user, incident: user.has_perm("incidents.view_incident"),
        can_attach=...,
        can_delete=lambda user, incident, attachment: ...,
        on_added=lambda incident, attachment, actor: ...,  # e.g. a timeline entry
        on_deleted=lambda incident, attachment, actor: ...,  # e.g. mark that entry
    )

Records are found by their ``number`` (``INC-000123``), as everywhere in the portal's URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models


@dataclass(frozen=True)
class Kind:
    model: type[models.Model]
    key: str
    can_view: Callable[[object, models.Model], bool]
    can_attach: Callable[[object, models.Model], bool]
    can_delete: Callable[[object, models.Model, object], bool]
    on_added: Callable[[models.Model, object, object], None] | None = None
    lookup: str = "number"
    on_deleted: Callable[[models.Model, object, object], None] | None = None


_kinds: dict[str, Kind] = {}


def register(
    model: type[models.Model],
    *,
    key: str,
    can_view: Callable,
    can_attach: Callable,
    can_delete: Callable,
    on_added: Callable | None = None,
    lookup: str = "number",
    on_deleted: Callable | None = None,
) -> Kind:
    kind = Kind(model, key, can_view, can_attach, can_delete, on_added, lookup, on_deleted)
    _kinds[key] = kind
    return kind


def by_key(key: str) -> Kind | None:
    return _kinds.get(key)


def for_model(model: type[models.Model]) -> Kind | None:
    return next((k for k in _kinds.values() if k.model is model), None)


def for_record(obj: models.Model) -> Kind | None:
    return for_model(type(obj))
