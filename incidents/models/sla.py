"""The resolution clock (issue 18 part 2): resolution targets per priority and holds.

A resolution target counts from the incident's clock start (``Incident.clock_from``) to its
recovery (``recovered_at``, まず復旧). A hold pauses that clock, never the response target.
The arithmetic lives in ``incidents.sla``; the use cases in ``incidents.holds``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import Clock, HoldReason, Priority
from .incident import Incident


class ResolutionTarget(models.Model):
    """Time from the clock start to recovery, per priority (issue 18: 復旧目標時間).

    ``minutes`` are real minutes on the 24×7 clock and business minutes on the business clock;
    "3 business days" is stored as 3 × the working day (3 × 540 = 1,620 business minutes with
    the default 09:00–18:00 day), see docs/sla.md."""

    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, unique=True)
    minutes = models.PositiveIntegerField(
        _("resolution target (minutes)"),
        validators=[MinValueValidator(1)],
        help_text=_(
            "Time from detection to recovery; business minutes when the clock is business hours."
        ),
    )
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices, default=Clock.ALWAYS)

    class Meta:
        ordering = ["priority"]
        verbose_name = _("resolution target")
        verbose_name_plural = _("resolution targets")

    def __str__(self) -> str:
        return f"{self.priority}: {self.minutes} min ({self.get_clock_display()})"


class HoldQuerySet(models.QuerySet):
    def active(self):
        return self.filter(ended_at__isnull=True)


class Hold(models.Model):
    """A pause of an incident's resolution clock, with its reason (issue 18: holds)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="holds", verbose_name=_("incident")
    )
    reason = models.CharField(_("reason"), max_length=30, choices=HoldReason.choices)
    comment = models.TextField(_("comment"), blank=True)
    started_at = models.DateTimeField(_("started at"))
    ends_at_planned = models.DateTimeField(_("planned end"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("put on hold by"),
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resumed by"),
    )

    objects = HoldQuerySet.as_manager()

    class Meta:
        ordering = ["incident", "started_at", "id"]
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        constraints = [
            # At most one running hold per incident (also under concurrent requests).
            models.UniqueConstraint(
                fields=["incident"], condition=Q(ended_at__isnull=True), name="hold_one_active"
            )
        ]
        indexes = [
            # The sweep (end_due_holds) reads the few running holds whose planned end passed.
            models.Index(
                fields=["ends_at_planned"],
                condition=Q(ended_at__isnull=True),
                name="hold_active_planned_end",
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.get_reason_display()}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
