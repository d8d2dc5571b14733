"""Release management (seed §10). Skeleton: the release issue fleshes this out."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from itsm.core.models import NumberedModel


class Release(ConcurrentTransitionMixin, NumberedModel):
    NUMBER_PREFIX = "REL"

    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DEVELOPMENT = "development", _("Development")
        TESTING = "testing", _("Testing")
        STAGING = "staging", _("Staging")
        CANARY = "canary", _("Canary")
        PRODUCTION = "production", _("Production")
        COMPLETED = "completed", _("Completed")
        ROLLED_BACK = "rolled_back", _("Rolled back")

    state = FSMField(_("state"), default=State.PLANNED, choices=State.choices, protected=True)
    name = models.CharField(_("name"), max_length=200)
    changes = models.ManyToManyField(
        "changes.ChangeRequest",
        related_name="releases",
        blank=True,
        verbose_name=_("change requests"),
    )

    class Meta:
        verbose_name = _("release")
        verbose_name_plural = _("releases")
