"""The resolution clock (issue 18 part 2): holds (``ResolutionTarget`` sits beside
``ResponseTarget`` in ``incident``).

A resolution target counts from the incident's clock start (``Incident.clock_from``) to its
recovery (``recovered_at``, まず復旧). A hold pauses that clock, never the response target.
The arithmetic lives in ``incidents.sla``; the use cases in ``incidents.holds``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import HoldReason
from .incident import Incident


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
