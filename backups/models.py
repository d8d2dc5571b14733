"""Backup & recovery (seed §11). Skeleton: the backup issue fleshes this out."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from itsm.core.models import NumberedModel


class BackupPolicy(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("backup policy")
        verbose_name_plural = _("backup policies")


class BackupJob(ConcurrentTransitionMixin, NumberedModel):
    NUMBER_PREFIX = "BKP"

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        VERIFIED = "verified", _("Verified")
        EXPIRED = "expired", _("Expired")

    state = FSMField(_("state"), default=State.SCHEDULED, choices=State.choices, protected=True)
    policy = models.ForeignKey(BackupPolicy, on_delete=models.PROTECT, related_name="jobs")

    class Meta:
        verbose_name = _("backup job")
        verbose_name_plural = _("backup jobs")
