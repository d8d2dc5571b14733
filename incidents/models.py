"""Incident management (seed §8). Skeleton: the incidents issue fleshes this out."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from itsm.core.models import NumberedModel


class Incident(ConcurrentTransitionMixin, NumberedModel):
    NUMBER_PREFIX = "INC"

    class State(models.TextChoices):
        DETECTED = "detected", _("Detected")
        TRIAGED = "triaged", _("Triaged")
        INVESTIGATING = "investigating", _("Investigating")
        RECOVERING = "recovering", _("Recovering")
        VERIFYING = "verifying", _("Verifying")
        CLOSED = "closed", _("Closed")

    state = FSMField(_("state"), default=State.DETECTED, choices=State.choices, protected=True)
    title = models.CharField(_("title"), max_length=200)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
