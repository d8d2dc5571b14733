"""Typed links between incidents (issue 18 §1): a duplicate, a cause, a parent (a major incident
grouping its children), or simply related. A link is stored once, from one incident to the
other, and read from both sides (``label_from`` / ``label_to``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .incident import Incident


class LinkKind(models.TextChoices):
    DUPLICATE_OF = "duplicate_of", _("Duplicate of")
    CAUSED_BY = "caused_by", _("Caused by")
    PARENT_OF = "parent_of", _("Parent of")
    RELATED = "related", _("Related to")


# How the link reads from the incident it points to.
INVERSE_LABELS = {
    LinkKind.DUPLICATE_OF: _("Has duplicate"),
    LinkKind.CAUSED_BY: _("Causes"),
    LinkKind.PARENT_OF: _("Child of"),
    LinkKind.RELATED: _("Related to"),
}

# Kinds whose chains must not loop back (an incident cannot be its own ancestor or cause).
DIRECTED_KINDS = (LinkKind.DUPLICATE_OF, LinkKind.CAUSED_BY, LinkKind.PARENT_OF)


class Link(models.Model):
    source = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="links_out", verbose_name=_("incident")
    )
    target = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        related_name="links_in",
        verbose_name=_("linked incident"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=LinkKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("linked by"),
    )
    created_at = models.DateTimeField(_("linked at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("incident link")
        verbose_name_plural = _("incident links")
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="link_once"),
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="link_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"

    def label_from(self, incident: Incident) -> str:
        """How the link reads on ``incident``'s page."""
        if incident.pk == self.source_id:
            return str(LinkKind(self.kind).label)
        return str(INVERSE_LABELS[LinkKind(self.kind)])

    def other(self, incident: Incident) -> Incident:
        return self.target if incident.pk == self.source_id else self.source
