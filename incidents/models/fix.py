"""§8.2 復旧作業 vs 修正作業: the follow-up that tracks a root-cause fix still to come.

An incident closed on recovery with "workaround only" gets one open follow-up; recording the fix
(``incidents.services.record_fix``) marks it done. A postmortem's ``ActionItem`` cannot carry
it: a P3/P4 incident has no postmortem, only the light review.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .incident import Incident


class FixFollowUpQuerySet(models.QuerySet):
    def open(self):
        return self.filter(done_at__isnull=True)


class FixFollowUp(models.Model):
    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        related_name="fix_follow_ups",
        verbose_name=_("incident"),
    )
    title = models.CharField(_("title"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fix_follow_ups",
        verbose_name=_("owner"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    # The change that removed the cause, by number: incidents never import changes.
    change_number = models.CharField(_("change"), max_length=30, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = FixFollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner", "done_at"], name="fix_follow_up_owner_done")]
        verbose_name = _("fix follow-up")
        verbose_name_plural = _("fix follow-ups")

    def __str__(self) -> str:
        return self.title

    @property
    def done(self) -> bool:
        return self.done_at is not None

    @property
    def is_overdue(self) -> bool:
        return not self.done and self.due_date is not None and self.due_date < timezone.localdate()
