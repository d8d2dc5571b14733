"""Pages (DESIGN.md § On-call and paging): one person paged about one incident at one step.

An escalation step that reaches a level pages the level's people (the on-call person of its
schedule, its person, its team or role). Each page is a row, written in the step's transaction
and unique per (incident, step, person), so a page is sent once however many sweeps race. An
unacknowledged page repeats on the person's channels every ``repeat_minutes`` until someone
acknowledges it or the incident escalates past its level or recovers (``stopped_at``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .escalation import EscalationStep
from .incident import Incident


class AckChannel(models.TextChoices):
    WEB = "web", _("Web")
    NOTIFICATION = "notification", _("Notification (bell)")
    API = "api", _("API")
    EMAIL_LINK = "email_link", _("Link in a notification")


class PageTarget(models.TextChoices):
    SCHEDULE = "schedule", _("On call")
    GAP = "gap", _("Team (gap in the schedule)")
    PERSON = "person", _("Person")
    TEAM = "team", _("Team")
    ROLE = "role", _("Role")


class Page(models.Model):
    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        db_index=False,  # page_once leads with it
        related_name="pages",
        verbose_name=_("incident"),
    )
    step = models.ForeignKey(
        EscalationStep, on_delete=models.CASCADE, related_name="pages", verbose_name=_("step")
    )
    level = models.PositiveSmallIntegerField(_("level"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="pages",
        verbose_name=_("person paged"),
    )
    target = models.CharField(_("paged as"), max_length=10, choices=PageTarget.choices)
    created_at = models.DateTimeField(_("paged at"))
    repeats = models.PositiveSmallIntegerField(_("repeats sent"), default=0)
    repeat_minutes = models.PositiveIntegerField(_("repeat every (minutes)"), default=0)
    next_repeat_at = models.DateTimeField(_("next repeat at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged_via = models.CharField(
        _("acknowledged via"), max_length=20, choices=AckChannel.choices, blank=True
    )
    link_used_at = models.DateTimeField(_("link used at"), null=True, blank=True)
    stopped_at = models.DateTimeField(
        _("stopped at"),
        null=True,
        blank=True,
        help_text=_("Paging stopped without an acknowledgement (escalated or recovered)."),
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("page")
        verbose_name_plural = _("pages")
        constraints = [
            models.UniqueConstraint(fields=["incident", "step", "user"], name="page_once")
        ]
        indexes = [
            models.Index(
                fields=["next_repeat_at"],
                name="page_repeat_due",
                condition=Q(next_repeat_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} L{self.level} → {self.user_id}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None and self.stopped_at is None
