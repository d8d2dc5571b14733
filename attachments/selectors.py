"""Reads of attachments, shared by the pages and the API; every read asks the record's app who
may see it (attachments.registry)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet
from django.http import Http404

from . import registry
from .models import Attachment


def attachments_of(obj: models.Model) -> QuerySet[Attachment]:
    return Attachment.objects.filter(
        record_type=ContentType.objects.get_for_model(obj), record_id=str(obj.pk)
    ).select_related("uploaded_by")


def visible_record(user, kind: registry.Kind, number: str) -> models.Model:
    """The record ``number`` of ``kind`` if ``user`` may see it; 404 otherwise (a record one may
    not see does not exist, as far as one can tell)."""
    obj = kind.model._default_manager.filter(**{kind.lookup: number}).first()
    if obj is None or not kind.can_view(user, obj):
        raise Http404
    return obj


def visible_attachment(user, public_id) -> Attachment:
    """The attachment if ``user`` may see its record; 404 otherwise."""
    attachment = (
        Attachment.objects.select_related("record_type", "uploaded_by")
        .filter(public_id=public_id)
        .first()
    )
    if attachment is None:
        raise Http404
    obj = attachment.record
    kind = registry.for_record(obj) if obj is not None else None
    if kind is None or not kind.can_view(user, obj):
        raise Http404
    return attachment


_ERRORS_KEY = "attachments.upload_errors"


def keep_errors(request, obj: models.Model, errors: list[str]) -> None:
    """A refused upload's messages, shown once under the form of that record's panel."""
    request.session[_ERRORS_KEY] = {"record": _record_key(obj), "errors": errors}


def _record_key(obj: models.Model) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def panel_context(request, obj: models.Model) -> dict | None:
    """The attachments panel of a record's page, or None for someone who may not see it."""
    user = getattr(request, "user", None)
    kind = registry.for_record(obj)
    if kind is None or not kind.can_view(user, obj):
        return None
    rows = list(attachments_of(obj))
    return {
        "record": obj,
        "record_key": kind.key,
        "record_number": getattr(obj, kind.lookup),
        "attachments": [
            {"attachment": a, "can_delete": kind.can_delete(user, obj, a)} for a in rows
        ],
        "can_attach": kind.can_attach(user, obj),
        "errors": _pop_errors(request, obj),
    }


def _pop_errors(request, obj: models.Model) -> list[str]:
    session = getattr(request, "session", None)
    kept = session.get(_ERRORS_KEY) if session is not None else None
    if not kept or kept.get("record") != _record_key(obj):
        return []
    del session[_ERRORS_KEY]
    return list(kept.get("errors") or [])
