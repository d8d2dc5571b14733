"""Change management (seed §9). Skeleton: the change issue fleshes this out."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from itsm.core.models import NumberedModel


class ChangeRequest(ConcurrentTransitionMixin, NumberedModel):
    NUMBER_PREFIX = "CHG"

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        IN_REVIEW = "in_review", _("In review")
        EMERGENCY_REVIEW = "emergency_review", _("Emergency review")
        CAB_REVIEW = "cab_review", _("CAB review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SCHEDULED = "scheduled", _("Scheduled")
        IMPLEMENTING = "implementing", _("Implementing")
        VERIFYING = "verifying", _("Verifying")
        ROLLED_BACK = "rolled_back", _("Rolled back")
        CAUSE_ANALYSIS = "cause_analysis", _("Cause analysis")
        CLOSED = "closed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    state = FSMField(_("state"), default=State.DRAFT, choices=State.choices, protected=True)
    title = models.CharField(_("title"), max_length=200)
    planned_start = models.DateTimeField(_("planned start"), null=True, blank=True)
    planned_end = models.DateTimeField(_("planned end"), null=True, blank=True)

    class Meta:
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
