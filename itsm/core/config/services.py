"""Writing configuration: the one use case behind the configuration API and ``import_config``.

``save_config`` creates or updates one record of a resource from validated data (the resource's
serializer), replaces its children, validates the model (``clean``, uniqueness, constraints) and
audits what changed, field by field, in one transaction. ``delete_config`` deletes and audits.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from ..audit import record_event
from .registry import Child, ConfigResource
from .serializers import represent


def validate_record(instance: models.Model, written: set[str]) -> None:
    """The model's own rules for the fields this write sets (the serializer checked types)."""
    model_fields = {f.name for f in instance._meta.concrete_fields}
    instance.clean_fields(exclude=model_fields - written)
    instance.clean()
    instance.validate_unique()
    instance.validate_constraints()


def _replace_children(instance, child: Child, rows: list[dict]) -> None:
    if child.write is not None:
        child.write(instance, rows)
        return
    manager = getattr(instance, child.related_name)
    manager.all().delete()
    errors = {}
    for index, row in enumerate(rows):
        obj = manager.model(**{child.parent: instance}, **row)
        try:
            validate_record(obj, set(row) | {child.parent})
        except ValidationError as exc:
            errors[str(index)] = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            continue
        obj.save()
    if errors:
        raise ValidationError({child.related_name: [str(errors)]})


def changes_between(before: dict | None, after: dict) -> dict:
    """``{field: [before, after]}`` for the fields that differ (everything when created)."""
    before = before or {}
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


@transaction.atomic
def save_config(
    resource: ConfigResource, data: dict, *, actor, instance=None, actor_label: str = ""
):
    """Create (``instance`` None) or update one record; returns it. Audited as
    ``config_create`` / ``config_update`` with the changed fields, nothing when nothing changed.
    Raises ``ValidationError`` (field messages) and writes nothing when the record is invalid."""
    created = instance is None
    before = None if created else represent(resource, instance)
    fields = [ref.source or name for name, ref in resource.many.items()]
    many = {name: data.pop(name) for name in fields if name in data}
    children = {
        child: data.pop(child.related_name)
        for child in resource.children
        if child.related_name in data
    }
    try:
        with transaction.atomic():
            if resource.save is not None:
                instance = resource.save(instance, data, actor=actor, created=created)
            else:
                instance = instance or resource.model_class()
                for name, value in data.items():
                    setattr(instance, name, value)
                validate_record(instance, set(data))
                instance.save()
            for name, values in many.items():
                getattr(instance, name).set(values)
            for child, rows in children.items():
                _replace_children(instance, child, [dict(row) for row in rows])
            if resource.after_write is not None:
                resource.after_write(instance)
    except IntegrityError as exc:
        raise ValidationError(
            _("This conflicts with an existing record: %(error)s") % {"error": exc}
        ) from exc
    after = represent(resource, instance)
    changed = changes_between(before, after)
    if changed:
        record_event(
            instance,
            action="config_create" if created else "config_update",
            actor=actor,
            actor_label=actor_label,
            data={"resource": resource.name, "changes": changed},
        )
    return instance


@transaction.atomic
def delete_config(resource: ConfigResource, instance, *, actor, actor_label: str = "") -> None:
    """Delete one record (audited with what it was); refused while other records use it."""
    record = represent(resource, instance)
    record_event(
        instance,
        action="config_delete",
        actor=actor,
        actor_label=actor_label,
        data={"resource": resource.name, "was": record},
    )
    try:
        with transaction.atomic():
            if resource.delete is not None:
                resource.delete(instance, actor=actor)
            else:
                instance.delete()
    except ProtectedError as exc:
        used_by = sorted({str(obj) for obj in exc.protected_objects})[:5]
        raise ValidationError(
            _("%(record)s is still used by: %(used_by)s")
            % {"record": resource.label(instance), "used_by": ", ".join(used_by)}
        ) from exc
