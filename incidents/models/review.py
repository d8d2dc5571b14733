"""§8.2 レビュー: the light review that follows the close of a normal-track (P3/P4) incident.

P1/P2 end in a postmortem (``Postmortem``); P3/P4 in this review: the configured checklist
(``ReviewCheck`` rows, seeded by a data migration and edited in the admin) ticked, and a comment.
It is pending until the assignee or an ops leader (or above) completes it, and waits in the
owner's "my work" meanwhile.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from itsm.core.roles import Role, at_least
from itsm.core.workflow import guard

from ..choices import REVIEW_STATE_COLORS, ReviewState
from .incident import Incident


class ReviewCheck(models.Model):
    """One line of the review checklist (configuration; copied onto each review when created)."""

    text = models.CharField(_("check"), max_length=200)
    display_order = models.PositiveSmallIntegerField(_("display order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["display_order", "id"]
        verbose_name = _("review check")
        verbose_name_plural = _("review checklist")

    def __str__(self) -> str:
        return self.text


@guard(_("Tick every item of the review checklist."))
def all_checks_ticked(review) -> bool:
    return not review.items.filter(checked=False).exists()


@guard(_("A review comment is required."))
def has_review_comment(review) -> bool:
    return bool(review.comment.strip())


_is_ops_leader = at_least(Role.OPS_LEADER)


def may_complete_review(review, user) -> bool:
    """The incident's assignee, or an ops leader or above."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if _is_ops_leader(review, user):
        return True
    return review.incident.assignee_id is not None and review.incident.assignee_id == user.pk


may_complete_review.description = _("the incident's assignee, or ops leader or above")


class IncidentReview(ConcurrentTransitionMixin, models.Model):
    """The review of one closed P3/P4 incident: ``pending`` → ``done``."""

    STATE_COLORS = REVIEW_STATE_COLORS
    State = ReviewState

    state = FSMField(
        _("state"), default=ReviewState.PENDING, choices=ReviewState.choices, protected=True
    )
    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="review", verbose_name=_("incident")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_incident_reviews",
        verbose_name=_("owner"),
    )
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    comment = models.TextField(_("review comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("completed by"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "state"], name="incident_review_owner_state")]
        verbose_name = _("incident review")
        verbose_name_plural = _("incident reviews")

    def __str__(self) -> str:
        return f"{self.incident.number} {self._meta.verbose_name}"

    @property
    def number(self) -> str:
        return self.incident.number

    def get_absolute_url(self) -> str:
        return self.incident.get_absolute_url() + "#review"

    @property
    def is_overdue(self) -> bool:
        return (
            self.state == ReviewState.PENDING
            and self.due_at is not None
            and self.due_at < timezone.now()
        )

    @transition(
        field=state,
        source=ReviewState.PENDING,
        target=ReviewState.DONE,
        conditions=[all_checks_ticked, has_review_comment],
        permission=may_complete_review,
        # Completed through services.complete_review from the review form on the incident page.
        custom={"label": _("Complete review"), "style": "success", "hidden": True},
    )
    def complete(self, **audit):
        self.completed_at = timezone.now()
        self.completed_by = audit.get("by")


class IncidentReviewItem(models.Model):
    """One checklist line of a review, ticked or not."""

    review = models.ForeignKey(
        IncidentReview, on_delete=models.CASCADE, related_name="items", verbose_name=_("review")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.CharField(_("check"), max_length=200)
    checked = models.BooleanField(_("checked"), default=False)

    class Meta:
        ordering = ["review", "order", "id"]
        verbose_name = _("review item")
        verbose_name_plural = _("review items")

    def __str__(self) -> str:
        return self.text
