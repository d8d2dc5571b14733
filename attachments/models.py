"""An attachment: one file on one record (an incident, a postmortem, a change).

The file's storage name is generated (``attachments/<yyyy>/<mm>/<uuid>``): nothing the client
sends becomes part of a path. The client's name is kept, cleaned, only to show and to name the
download.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import storages
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .files import IMAGE_CONTENT_TYPES


def attachment_storage():
    return storages["attachments"]


def storage_path(instance: Attachment, filename: str) -> str:
    """The client's ``filename`` is ignored on purpose."""
    now = timezone.now()
    return f"attachments/{now:%Y}/{now:%m}/{instance.public_id.hex}"


class Attachment(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    record_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", verbose_name=_("record type")
    )
    record_id = models.CharField(_("record id"), max_length=64)
    record = GenericForeignKey("record_type", "record_id")
    file = models.FileField(
        _("file"), storage=attachment_storage, upload_to=storage_path, max_length=200
    )
    name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["record_type", "record_id"], name="attachment_record")]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGE_CONTENT_TYPES

    def get_absolute_url(self) -> str:
        return reverse("attachments:download", args=[self.public_id])

    def preview_url(self) -> str:
        return reverse("attachments:preview", args=[self.public_id]) if self.is_image else ""
