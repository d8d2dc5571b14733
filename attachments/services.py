"""Use cases of attachments (issue 19).

- ``add_attachment``: check who may attach, the size and the type, store the file under a
  generated name, audit ``attachment_added`` on the record and tell its app (``on_added``).
- ``delete_attachment``: check who may delete, drop the row, audit ``attachment_deleted`` on the
  record and remove the file from storage once the transaction commits.
"""

from __future__ import annotations

import hashlib

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils.translation import gettext as _

from itsm.core.audit import record_event

from . import files, registry
from .models import Attachment


def _kind_for(obj: models.Model) -> registry.Kind:
    kind = registry.for_record(obj)
    if kind is None:
        raise PermissionDenied(_("This record does not take attachments."))
    return kind


def _read_head_and_digest(upload: UploadedFile) -> tuple[bytes, str]:
    digest = hashlib.sha256()
    head = b""
    upload.seek(0)
    for chunk in upload.chunks():
        if len(head) < files.SNIFF_BYTES:
            head += chunk[: files.SNIFF_BYTES - len(head)]
        digest.update(chunk)
    upload.seek(0)
    return head, digest.hexdigest()


def add_attachment(obj: models.Model, *, actor, upload: UploadedFile) -> Attachment:
    """Attach ``upload`` to ``obj``: refused (ValidationError on ``file``) when it is empty, over
    ATTACHMENT_MAX_BYTES or not one of ATTACHMENT_ALLOWED_TYPES by name and content."""
    kind = _kind_for(obj)
    if not kind.can_attach(actor, obj):
        raise PermissionDenied(_("You may not add attachments here."))
    files.check_size(upload.size or 0)
    name = files.clean_name(upload.name)
    head, sha256 = _read_head_and_digest(upload)
    file_type = files.file_type(name, head)
    attachment = Attachment(
        record_type=ContentType.objects.get_for_model(obj),
        record_id=str(obj.pk),
        name=name,
        content_type=file_type.content_type,
        size=upload.size,
        sha256=sha256,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    try:
        with transaction.atomic():
            attachment.file.save("upload", upload, save=False)  # storage_path names it
            attachment.save()
            record_event(
                obj,
                action="attachment_added",
                actor=actor,
                comment=attachment.name,
                data=_audit_data(attachment),
            )
            if kind.on_added is not None:
                kind.on_added(obj, attachment, actor)
    except BaseException:
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


def delete_attachment(attachment: Attachment, *, actor) -> None:
    """Remove an attachment; the record's audit trail keeps its name, size and checksum."""
    obj = attachment.record
    kind = _kind_for(obj)
    if not kind.can_delete(actor, obj, attachment):
        raise PermissionDenied(_("You may not delete this attachment."))
    storage, stored_name = attachment.file.storage, attachment.file.name
    with transaction.atomic():
        data = _audit_data(attachment)
        attachment.delete()
        record_event(obj, action="attachment_deleted", actor=actor, comment=data["name"], data=data)
        if kind.on_deleted:
            kind.on_deleted(obj, attachment, actor)
        transaction.on_commit(lambda: storage.delete(stored_name))


def _audit_data(attachment: Attachment) -> dict:
    return {
        "attachment": str(attachment.public_id),
        "name": attachment.name,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "content_type": attachment.content_type,
    }
