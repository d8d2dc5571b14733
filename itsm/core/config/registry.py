"""What an administrator configures, declared once per resource and used three ways: the
configuration API (``/api/v1/config/<name>/``), ``export_config`` and ``import_config``.

Each app declares its resources in ``<app>/config.py`` (``register(ConfigResource(...))``), loaded
for every installed app whose AppConfig says ``config_resources = True``. A resource names a model,
its natural key (what a YAML file and the API's URL use instead of database ids), the plain fields,
the relations by the natural key of their target, and children edited as a whole with their parent
(the levels of an escalation policy, the rules of an integration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from django.apps import apps
from django.db import models

from ..roles import Role


@dataclass(frozen=True)
class Ref:
    """A relation written as its target's natural key: ``Ref("core.Team", "slug")``."""

    model: str
    key: str = "slug"
    limit: Callable[[models.QuerySet], models.QuerySet] | None = None
    source: str | None = None  # the model field when the resource names it differently

    def queryset(self) -> models.QuerySet:
        qs = apps.get_model(self.model)._default_manager.all()
        return self.limit(qs) if self.limit else qs


@dataclass(frozen=True, eq=False)
class Child:
    """Rows owned by the parent (``related_name`` on the parent), replaced as a whole on write
    and ordered by ``order`` on export. ``parent`` is the child's foreign key to the parent."""

    related_name: str
    model: str
    parent: str
    fields: tuple[str, ...]
    refs: dict[str, Ref] = field(default_factory=dict)
    order: tuple[str, ...] = ("pk",)
    # When the rows need more than their fields (a layer's people in rotation order): the
    # serializer class of one row, and ``write(parent, rows)`` replacing the parent's rows.
    serializer: type | None = None
    write: Callable | None = None


@dataclass(frozen=True, eq=False)
class ConfigResource:
    name: str  # URL segment and YAML section: "escalation-policies"
    model: str  # "incidents.EscalationPolicy"
    key: tuple[str, ...]  # natural key fields, unique together
    fields: tuple[str, ...] = ()
    refs: dict[str, Ref] = field(default_factory=dict)  # foreign keys by natural key
    many: dict[str, Ref] = field(default_factory=dict)  # many-to-many by natural keys
    children: tuple[Child, ...] = ()
    # Import order: what others refer to comes first (teams before services before policies).
    order: int = 100
    # Who may write it besides administrators (the seed gives some tables to the ops manager).
    editors: tuple[Role, ...] = ()
    # Fields written but never read back or exported (a secret shown once is not a field here).
    write_only: tuple[str, ...] = ()
    queryset: Callable[[models.QuerySet], models.QuerySet] | None = None
    # The serializer class when the generated one is not enough (extra fields, validation);
    # it must subclass the generated one (``config_serializer(resource)``).
    serializer: Callable[[ConfigResource], type] | None = None
    # Service hooks: ``save(instance, data, actor=, created=)`` replaces the generic write of the
    # plain fields (e.g. an integration issues its secret); ``delete(instance, actor=)`` likewise.
    save: Callable | None = None
    delete: Callable | None = None
    # ``after_write(instance)``: once the record and its children are written (recompute a
    # policy's next run from its schedules).
    after_write: Callable | None = None
    # Extra API actions (rotate a secret, revoke): a mixin class for the generated viewset.
    viewset_mixin: type | None = None
    description: str = ""

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def get_queryset(self) -> models.QuerySet:
        qs = self.model_class._default_manager.all()
        return self.queryset(qs) if self.queryset else qs

    def natural_key(self, instance) -> tuple:
        return tuple(_dotted(instance, name) for name in self.key)

    def label(self, instance) -> str:
        return "/".join(str(part) for part in self.natural_key(instance))


def _dotted(instance, name):
    value = getattr(instance, name)
    return value if not isinstance(value, models.Model) else str(value)


_RESOURCES: dict[str, ConfigResource] = {}
_LOADED = False


def register(resource: ConfigResource) -> ConfigResource:
    if resource.name in _RESOURCES and _RESOURCES[resource.name] != resource:
        raise ValueError(f"configuration resource {resource.name!r} registered twice")
    _RESOURCES[resource.name] = resource
    return resource


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    for config in apps.get_app_configs():
        if getattr(config, "config_resources", False):
            # itsm.core's own declarations are a module of this package: itsm.core.config.core
            import_module(
                f"{config.name}.config" if config.label != "core" else f"{__package__}.core"
            )
    _LOADED = True


def resources() -> list[ConfigResource]:
    """Every resource in import order (dependencies first)."""
    _load()
    return sorted(_RESOURCES.values(), key=lambda r: (r.order, r.name))


def resource(name: str) -> ConfigResource:
    _load()
    return _RESOURCES[name]
