"""Change management (seed §9): change requests, their classes, approvals, CAB votes, freeze
windows, standard change templates, rollback criteria and the work log.

The transitions below change only the change request's own fields; the records a step implies
(approvals, votes, verification checks) are written by ``changes.services``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from itsm.core.business_calendar import current_calendar
from itsm.core.models import NumberedModel, Service
from itsm.core.roles import Role, at_least, has_role, ops_rank
from itsm.core.workflow import guard

from .choices import (
    ApprovalKind,
    Category,
    ClassCode,
    Decision,
    IncidentRelation,
    LeadTimeUnit,
    Outcome,
    ReviewPath,
    RiskLevel,
    VerificationResult,
    Vote,
)

# §9.4 実施時 1: how old the pre-change backup may be when the implementation starts, unless the
# class says otherwise (``ChangeClass.backup_max_age_hours``).
DEFAULT_BACKUP_MAX_AGE_HOURS = 24


def in_reader_language(ja: str, en: str) -> str:
    """Editable data kept in both interface languages: the active language's text."""
    if en and (get_language() or "").startswith("en"):
        return en
    return ja


class ChangeClass(models.Model):
    """A change class of §9.2 as data: who approves, which review path, how much lead time."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    # Names are data (editable in the admin), one per interface language: ``name`` in
    # Japanese (the standard's words), ``name_en`` in English; readers see their own.
    name = models.CharField(_("name (Japanese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    definition = models.CharField(_("definition (Japanese)"), max_length=200, blank=True)
    definition_en = models.CharField(_("definition (English)"), max_length=200, blank=True)
    approver_role = models.CharField(_("approver role"), max_length=32, choices=Role.choices)
    review_path = models.CharField(_("review path"), max_length=32, choices=ReviewPath.choices)
    lead_time_unit = models.CharField(
        _("lead time unit"), max_length=16, choices=LeadTimeUnit.choices, default=LeadTimeUnit.NONE
    )
    lead_time_amount = models.PositiveSmallIntegerField(_("lead time"), default=0)
    exempt_from_freeze = models.BooleanField(
        _("exempt from freeze windows"),
        default=False,
        help_text=_("Emergency changes may be scheduled inside a freeze window."),
    )
    requires_template = models.BooleanField(
        _("requires a standard change template"),
        default=False,
        help_text=_("Standard changes are pre-approved only when made from a template."),
    )
    cab_approval_percent = models.PositiveSmallIntegerField(
        _("CAB approvals needed (%)"),
        default=50,
        help_text=_(
            "More than this share of the active CAB members must approve "
            "(50 = simple majority, 100 = unanimous)."
        ),
    )
    cab_rejection_blocks = models.BooleanField(
        _("a standing rejection blocks approval"),
        default=True,
        help_text=_("While a CAB member's rejection stands, the change cannot be approved."),
    )
    backup_max_age_hours = models.PositiveSmallIntegerField(
        _("maximum age of the pre-change backup (hours)"),
        default=DEFAULT_BACKUP_MAX_AGE_HOURS,
        validators=[MinValueValidator(1)],
        help_text=_(
            "§9.4: the pre-change backup must have finished within this many hours before "
            "the implementation starts."
        ),
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("change class")
        verbose_name_plural = _("change classes")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The class name in the reader's language (the Japanese name when none is set)."""
        return in_reader_language(self.name, self.name_en)

    @property
    def definition_label(self) -> str:
        return in_reader_language(self.definition, self.definition_en)

    def clean(self):
        if self.cab_approval_percent > 100:
            raise ValidationError({"cab_approval_percent": _("At most 100.")})

    @property
    def lead_time_label(self) -> str:
        if self.lead_time_unit == LeadTimeUnit.NONE or not self.lead_time_amount:
            return str(_("Immediate"))
        if self.lead_time_unit == LeadTimeUnit.BUSINESS_DAYS:
            return str(_("%(n)s business days") % {"n": self.lead_time_amount})
        return str(_("%(n)s calendar days") % {"n": self.lead_time_amount})

    def earliest_start(self, submitted_at: datetime) -> datetime:
        """§9.2: the earliest planned start for a change submitted at ``submitted_at``."""
        if self.lead_time_unit == LeadTimeUnit.NONE or not self.lead_time_amount:
            return submitted_at
        if self.lead_time_unit == LeadTimeUnit.BUSINESS_DAYS:
            return current_calendar().add_business_days(submitted_at, self.lead_time_amount)
        return submitted_at + timedelta(days=self.lead_time_amount)

    def cab_required_approvals(self, active_members: int) -> int:
        """Approvals needed: strictly more than ``cab_approval_percent`` % of the members."""
        if active_members <= 0:
            return 1
        if self.cab_approval_percent >= 100:
            return active_members
        return active_members * self.cab_approval_percent // 100 + 1


class FreezeWindow(models.Model):
    """A period without changes (release freeze, peak season); empty services = every service."""

    name = models.CharField(_("name"), max_length=100)
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"), db_index=True)
    reason = models.TextField(_("reason"), blank=True)
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="freeze_windows",
        verbose_name=_("services"),
        help_text=_("Leave empty to freeze every service."),
    )

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("freeze window")
        verbose_name_plural = _("freeze windows")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="freeze_window_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must be after the start.")})


class RollbackCriterion(models.Model):
    """§9.5 ロールバック判断基準: one item of the checklist evaluated on verification."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    text = models.CharField(_("criterion (Japanese)"), max_length=200)
    text_en = models.CharField(_("criterion (English)"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("rollback criterion")
        verbose_name_plural = _("rollback criteria")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return in_reader_language(self.text, self.text_en)


class StandardChangeTemplate(models.Model):
    """A pre-approved, documented low-risk change (§9.2 標準変更), owned by an ops leader."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    category = models.CharField(_("category"), max_length=40, choices=Category.choices)
    description = models.TextField(_("description"), blank=True)
    implementation_plan = models.TextField(_("implementation plan"))
    rollback_plan = models.TextField(_("rollback plan"))
    risk_level = models.CharField(
        _("risk level"), max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW
    )
    services = models.ManyToManyField(
        Service, blank=True, related_name="change_templates", verbose_name=_("services")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_change_templates",
        verbose_name=_("owner (ops leader)"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("standard change template")
        verbose_name_plural = _("standard change templates")

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.owner_id and ops_rank(self.owner) < 2:
            raise ValidationError({"owner": _("The owner must be an ops leader or above.")})


# --- Guards (§9.4) -----------------------------------------------------------------------


@guard(_("A change class is required."))
def has_change_class(change) -> bool:
    return change.change_class_id is not None


@guard(_("An impact assessment (affected users/services and risk level) is required."))
def has_impact_assessment(change) -> bool:
    return bool(change.affected_users.strip() and change.risk_level)


@guard(_("A rollback plan is required before submission."))
def has_rollback_plan(change) -> bool:
    return bool(change.rollback_plan.strip())


@guard(_("An implementation plan is required before submission."))
def has_implementation_plan(change) -> bool:
    return bool(change.implementation_plan.strip())


@guard(_("A planned start and end (end after start) are required."))
def has_planned_window(change) -> bool:
    return bool(
        change.planned_start and change.planned_end and change.planned_end > change.planned_start
    )


@guard(
    _(
        "The planned start is inside the class's lead time on the business calendar. "
        "Choose a later start, or file an emergency change if it cannot wait."
    )
)
def respects_lead_time(change) -> bool:
    if not change.planned_start:
        return True  # reported by has_planned_window
    return change.planned_start >= change.earliest_start()


@guard(_("The planned window overlaps a freeze window (only emergency changes may)."))
def outside_freeze_windows(change) -> bool:
    exempt = change.change_class_id is not None and change.change_class.exempt_from_freeze
    return exempt or not change.freeze_conflicts().exists()


@guard(_("Standard changes must be created from an active standard change template."))
def standard_change_has_template(change) -> bool:
    if change.change_class_id is None or not change.change_class.requires_template:
        return True
    return change.template_id is not None and change.template.is_active


def may_waive_backup(change, user) -> bool:
    """§9.4 実施時 1: only the class's approver role (§9.2 承認者) or an ops manager may decide
    that a change goes ahead without a pre-change backup."""
    if user is None:
        return False
    roles = [Role.OPS_MANAGER]
    if change.change_class_id is not None:
        roles.append(change.change_class.approver_role)
    return has_role(user, *roles)


def policy_verifies(policy) -> bool:
    """Whether a backup of ``policy`` counts only once verified: the built-in executor of the
    portal database verifies every archive by reading it back, so a job of that policy that is
    merely "succeeded" has not passed its own check. Backup tools outside the portal report
    succeeded (or verified) jobs, and a succeeded one counts."""
    from backups.choices import TargetKind

    return policy.target_kind == TargetKind.PORTAL_DATABASE


def pre_change_backup_problem(change, at: datetime | None = None) -> str | None:
    """Why the change's pre-change backup does not meet §9.4 実施時 1, or None when it does.

    Met by a waiver with a reason from someone who may waive (``may_waive_backup``), or by a
    backup job that succeeded (verified, where its policy verifies), of a policy covering one
    of the change's services, finished within the class's ``backup_max_age_hours`` before the
    start of the implementation (``at``, default now, while it has not started).
    """
    if change.backup_waived:
        if not change.backup_waiver_reason.strip():
            return gettext("A waiver needs a reason.")
        if not may_waive_backup(change, change.backup_waived_by):
            return gettext(
                "Only the class's approver role or an ops manager may waive the pre-change backup."
            )
        return None
    job = change.pre_change_backup
    if job is None:
        return gettext(
            "No pre-change backup is recorded yet: record a backup job (BKP-…) or a waiver "
            "when the implementation starts."
        )
    if policy_verifies(job.policy):
        if job.state != job.State.VERIFIED:
            return gettext(
                "%(job)s is %(state)s: its policy verifies every backup, so only a verified "
                "backup counts."
            ) % {"job": job.number, "state": job.get_state_display()}
    elif job.state not in job.GOOD_STATES:
        return gettext("%(job)s is %(state)s: only a succeeded backup counts.") % {
            "job": job.number,
            "state": job.get_state_display(),
        }
    service_ids = {s.pk for s in change.services.all()} if change.pk is not None else set()
    if job.policy.service_id not in service_ids:
        return gettext(
            "%(job)s is a backup of the policy “%(policy)s”, which covers none of the change's "
            "services."
        ) % {"job": job.number, "policy": job.policy.name}
    start = change.implementation_started_at or at or timezone.now()
    hours = change.backup_max_age_hours
    if job.finished_at is None or not (start - timedelta(hours=hours) <= job.finished_at <= start):
        return gettext(
            "%(job)s must have finished within %(hours)s hours before the start (%(start)s)."
        ) % {
            "job": job.number,
            "hours": hours,
            "start": timezone.localtime(start).strftime("%Y-%m-%d %H:%M"),
        }
    return None


@guard(
    _(
        "Record a pre-change backup of one of the change's services that succeeded within the "
        "class's window before the start, or have the class's approver (or an ops manager) "
        "waive it with a reason."
    )
)
def has_pre_change_backup(change) -> bool:
    """§9.4 実施時 1 事前バックアップの取得: a backup that did not succeed, backs up another
    service or is stale protects nothing; see ``pre_change_backup_problem``."""
    return pre_change_backup_problem(change) is None


@guard(
    _("An emergency change is closed only once its post-implementation review is recorded (§9.2).")
)
def has_post_implementation_review(change) -> bool:
    return not change.is_emergency or change.post_implementation_reviewed_at is not None


@guard(_("Record a verification that passed the rollback criteria before closing."))
def verification_passed(change) -> bool:
    return change.verification_result == VerificationResult.PASSED


@guard(_("A result report is required."))
def has_result_report(change) -> bool:
    return bool(change.result_report.strip())


@guard(_("Record the rollback steps that were taken."))
def has_rollback_steps(change) -> bool:
    return bool(change.rollback_steps.strip())


@guard(_("Record the findings of the cause analysis."))
def has_cause_findings(change) -> bool:
    return bool(change.cause_findings.strip())


# --- Permissions ------------------------------------------------------------------------


def is_requester_or_ops(change, user) -> bool:
    """The requester, or an ops leader and above."""
    return (user is not None and change.requester_id == user.pk) or ops_rank(user) >= 2


def is_implementer_or_ops(change, user) -> bool:
    """The implementer (or the requester when none is named), or an ops leader and above."""
    if user is None:
        return False
    doer = change.implementer_id or change.requester_id
    return doer == user.pk or ops_rank(user) >= 2


def is_class_approver(change, user) -> bool:
    """§9.2 承認者: the class's approver role; never the requester (no self-approval)."""
    if user is None or change.requester_id == user.pk or change.change_class_id is None:
        return False
    return has_role(user, change.change_class.approver_role)


def system_only(change, user) -> bool:
    """Applied only by services on their own (routing, the CAB's decision), never by a person."""
    return False


system_only.description = _("the system only")
is_requester_or_ops.description = _("requester or ops leader and above")
is_implementer_or_ops.description = _("implementer or ops leader and above")
is_class_approver.description = _("the class's approver (not the requester)")


class ChangeRequest(ConcurrentTransitionMixin, NumberedModel):
    """A request for change (RFC) and its way from draft to closed (§9.3, §9.4)."""

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

    STATE_COLORS = {
        "draft": "secondary",
        "submitted": "info",
        "in_review": "info",
        "emergency_review": "warning",
        "cab_review": "info",
        "approved": "primary",
        "rejected": "danger",
        "scheduled": "primary",
        "implementing": "warning",
        "verifying": "warning",
        "rolled_back": "danger",
        "cause_analysis": "danger",
        "closed": "success",
        "cancelled": "dark",
    }
    REVIEW_STATES = ("in_review", "emergency_review", "cab_review")
    OPEN_STATES = (
        "draft",
        "submitted",
        "in_review",
        "emergency_review",
        "cab_review",
        "approved",
        "scheduled",
        "implementing",
        "verifying",
        "rolled_back",
        "cause_analysis",
    )
    # States whose window occupies the calendar (conflicts, iCalendar feed).
    CALENDAR_STATES = ("approved", "scheduled", "implementing", "verifying")
    CANCELLABLE = (
        "draft",
        "submitted",
        "in_review",
        "emergency_review",
        "cab_review",
        "approved",
        "rejected",
        "scheduled",
    )

    state = FSMField(_("state"), default=State.DRAFT, choices=State.choices, protected=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=40, choices=Category.choices)
    # Nullable in the database so other apps can make bare records in their tests; the
    # forms, the API and the submit guard require it.
    change_class = models.ForeignKey(
        ChangeClass,
        on_delete=models.PROTECT,
        null=True,
        related_name="changes",
        verbose_name=_("class"),
    )
    template = models.ForeignKey(
        StandardChangeTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
        verbose_name=_("standard change template"),
    )
    services = models.ManyToManyField(
        Service, blank=True, related_name="changes", verbose_name=_("affected services")
    )
    # Impact assessment (§9.4 事前準備 3 影響評価の実施)
    affected_users = models.TextField(
        _("affected users and services"),
        blank=True,
        help_text=_("Who and what is affected, and how (downtime, degraded features…)."),
    )
    risk_level = models.CharField(
        _("risk level"), max_length=10, choices=RiskLevel.choices, blank=True
    )
    risk_notes = models.TextField(_("risk notes"), blank=True)
    # Plans (§9.4 事前準備 2, 4)
    implementation_plan = models.TextField(_("implementation plan"), blank=True)
    rollback_plan = models.TextField(_("rollback plan"), blank=True)
    planned_start = models.DateTimeField(_("planned start"), null=True, blank=True, db_index=True)
    planned_end = models.DateTimeField(_("planned end"), null=True, blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requested_changes",
        verbose_name=_("requester"),
    )
    implementer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="implemented_changes",
        verbose_name=_("implementer"),
    )
    incidents = models.ManyToManyField(
        "incidents.Incident",
        through="IncidentLink",
        blank=True,
        related_name="changes",
        verbose_name=_("linked incidents"),
    )
    # §9.4 実施時 1 事前バックアップの取得
    pre_change_backup = models.ForeignKey(
        "backups.BackupJob",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
        verbose_name=_("pre-change backup"),
    )
    backup_waived = models.BooleanField(
        _("pre-change backup waived"),
        default=False,
        help_text=_("Only the class's approver role or an ops manager may waive the backup."),
    )
    backup_waiver_reason = models.TextField(_("reason for the waiver"), blank=True)
    backup_waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pre-change backup waived by"),
    )
    backup_waived_at = models.DateTimeField(_("pre-change backup waived at"), null=True, blank=True)
    # Verification, rollback and closing (§9.4 事後, §9.5)
    verification_result = models.CharField(
        _("verification result"), max_length=10, choices=VerificationResult.choices, blank=True
    )
    verification_notes = models.TextField(_("verification notes"), blank=True)
    rollback_steps = models.TextField(_("rollback steps taken"), blank=True)
    cause_findings = models.TextField(_("cause analysis findings"), blank=True)
    result_report = models.TextField(_("result report"), blank=True)
    documentation_updated = models.BooleanField(_("documentation updated"), default=False)
    documentation_url = models.URLField(_("documentation link"), blank=True)
    post_implementation_review = models.TextField(
        _("post-implementation review"),
        blank=True,
        help_text=_("Emergency changes: the review recorded after the fact."),
    )
    post_implementation_reviewed_at = models.DateTimeField(
        _("post-implementation review recorded at"), null=True, blank=True
    )
    post_implementation_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("post-implementation review by"),
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    implementation_started_at = models.DateTimeField(
        _("implementation started at"), null=True, blank=True
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        indexes = [models.Index(fields=["state", "planned_start"])]

    def get_absolute_url(self) -> str:
        return reverse("changes:detail", args=[self.number])

    def clean(self):
        errors = {}
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            errors["planned_end"] = _("The planned end must be after the planned start.")
        if self.backup_waived and not self.backup_waiver_reason.strip():
            errors["backup_waiver_reason"] = _("A waiver needs a reason.")
        if self.documentation_url and not self.documentation_updated:
            errors["documentation_updated"] = _("Tick this when the documentation is updated.")
        if errors:
            raise ValidationError(errors)

    # --- derived ---------------------------------------------------------------------

    @property
    def is_emergency(self) -> bool:
        return self.change_class_id is not None and self.change_class.code == ClassCode.EMERGENCY

    @property
    def needs_post_implementation_review(self) -> bool:
        """§9.2 緊急変更: approved at once, reviewed after the fact — once implementation started."""
        return (
            self.is_emergency
            and self.implementation_started_at is not None
            and self.state != self.State.CANCELLED
        )

    @property
    def post_implementation_review_pending(self) -> bool:
        return (
            self.needs_post_implementation_review and self.post_implementation_reviewed_at is None
        )

    @property
    def backup_max_age_hours(self) -> int:
        if self.change_class_id is None:
            return DEFAULT_BACKUP_MAX_AGE_HOURS
        return self.change_class.backup_max_age_hours

    @property
    def is_editable(self) -> bool:
        return self.state == self.State.DRAFT

    def earliest_start(self) -> datetime:
        """The earliest start the class's lead time allows, counted from submission."""
        moment = self.submitted_at or timezone.now()
        if self.change_class_id is None:
            return moment
        return self.change_class.earliest_start(moment)

    def freeze_conflicts(self):
        """Freeze windows overlapping the planned window for any affected service (or all)."""
        if not (self.planned_start and self.planned_end):
            return FreezeWindow.objects.none()
        overlapping = FreezeWindow.objects.filter(
            starts_at__lt=self.planned_end, ends_at__gt=self.planned_start
        )
        if self.pk is None:
            return overlapping.filter(services__isnull=True)
        service_ids = list(self.services.values_list("pk", flat=True))
        return overlapping.filter(
            models.Q(services__isnull=True) | models.Q(services__in=service_ids)
        ).distinct()

    def schedule_conflicts(self):
        """Other changes on the same service whose windows overlap this one (warnings)."""
        if not (self.planned_start and self.planned_end and self.pk):
            return ChangeRequest.objects.none()
        return (
            ChangeRequest.objects.filter(
                state__in=self.CALENDAR_STATES,
                planned_start__lt=self.planned_end,
                planned_end__gt=self.planned_start,
                services__in=self.services.all(),
            )
            .exclude(pk=self.pk)
            .distinct()
        )

    # --- transitions (§9.3) ------------------------------------------------------------

    @transition(
        field=state,
        source=State.DRAFT,
        target=State.SUBMITTED,
        conditions=[
            has_change_class,
            has_impact_assessment,
            has_implementation_plan,
            has_rollback_plan,
            has_planned_window,
            standard_change_has_template,
            respects_lead_time,
        ],
        permission=is_requester_or_ops,
        custom={"label": _("Submit"), "style": "primary"},
    )
    def submit(self, **audit):
        self.submitted_at = timezone.now()

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=RETURN_VALUE(
            State.APPROVED, State.IN_REVIEW, State.EMERGENCY_REVIEW, State.CAB_REVIEW
        ),
        permission=system_only,
        custom={"label": _("Route by class"), "hidden": True},
    )
    def route(self, **audit):
        """§9.3 変更分類: the class decides the review path."""
        path = self.change_class.review_path if self.change_class_id else ReviewPath.REVIEW
        if path == ReviewPath.AUTO_APPROVE:
            self.approved_at = timezone.now()
            return self.State.APPROVED
        return {
            ReviewPath.REVIEW: self.State.IN_REVIEW,
            ReviewPath.EMERGENCY_REVIEW: self.State.EMERGENCY_REVIEW,
            ReviewPath.CAB_REVIEW: self.State.CAB_REVIEW,
        }[path]

    @transition(
        field=state,
        source=[State.IN_REVIEW, State.EMERGENCY_REVIEW],
        target=State.APPROVED,
        permission=is_class_approver,
        custom={"label": _("Approve"), "style": "success"},
    )
    def approve(self, **audit):
        self.approved_at = timezone.now()

    @transition(
        field=state,
        source=[State.IN_REVIEW, State.EMERGENCY_REVIEW],
        target=State.REJECTED,
        permission=is_class_approver,
        custom={"label": _("Reject"), "style": "danger", "comment_required": True},
    )
    def reject(self, **audit):
        pass

    @transition(
        field=state,
        source=State.CAB_REVIEW,
        target=State.APPROVED,
        permission=system_only,
        custom={"label": _("CAB approves"), "hidden": True},
    )
    def cab_approve(self, **audit):
        self.approved_at = timezone.now()

    @transition(
        field=state,
        source=State.CAB_REVIEW,
        target=State.REJECTED,
        permission=system_only,
        custom={"label": _("CAB rejects"), "hidden": True},
    )
    def cab_reject(self, **audit):
        pass

    @transition(
        field=state,
        source=State.REJECTED,
        target=State.DRAFT,
        permission=is_requester_or_ops,
        custom={"label": _("Revise"), "style": "secondary"},
    )
    def revise(self, **audit):
        self.submitted_at = None

    @transition(
        field=state,
        source=State.APPROVED,
        target=State.SCHEDULED,
        conditions=[has_planned_window, respects_lead_time, outside_freeze_windows],
        permission=is_implementer_or_ops,
        custom={
            "label": _("Schedule"),
            "style": "primary",
            "fields": ["planned_start", "planned_end", "implementer"],
        },
    )
    def schedule(self, **audit):
        pass

    @transition(
        field=state,
        source=State.SCHEDULED,
        target=State.SCHEDULED,
        conditions=[has_planned_window, respects_lead_time, outside_freeze_windows],
        permission=is_implementer_or_ops,
        custom={
            "label": _("Reschedule"),
            "style": "secondary",
            "fields": ["planned_start", "planned_end"],
            "comment_required": True,
        },
    )
    def reschedule(self, **audit):
        pass

    @transition(
        field=state,
        source=State.SCHEDULED,
        target=State.IMPLEMENTING,
        conditions=[has_pre_change_backup],
        permission=is_implementer_or_ops,
        custom={
            "label": _("Start implementation"),
            "style": "warning",
            "fields": ["pre_change_backup", "backup_waived", "backup_waiver_reason"],
        },
    )
    def start_implementation(self, **audit):
        self.implementation_started_at = timezone.now()

    @transition(
        field=state,
        source=State.IMPLEMENTING,
        target=State.VERIFYING,
        permission=is_implementer_or_ops,
        custom={"label": _("Start verification"), "style": "primary"},
    )
    def start_verification(self, **audit):
        self.verification_result = ""

    @transition(
        field=state,
        source=[State.IMPLEMENTING, State.VERIFYING],
        target=State.ROLLED_BACK,
        conditions=[has_rollback_steps],
        permission=is_implementer_or_ops,
        custom={
            "label": _("Roll back"),
            "style": "danger",
            "fields": ["rollback_steps"],
            "comment_required": True,
        },
    )
    def roll_back(self, **audit):
        self.outcome = Outcome.FAILED

    @transition(
        field=state,
        source=State.ROLLED_BACK,
        target=State.CAUSE_ANALYSIS,
        permission=is_implementer_or_ops,
        custom={"label": _("Start cause analysis"), "style": "primary"},
    )
    def start_cause_analysis(self, **audit):
        pass

    @transition(
        field=state,
        source=State.VERIFYING,
        target=State.CLOSED,
        conditions=[verification_passed, has_result_report, has_post_implementation_review],
        permission=is_implementer_or_ops,
        custom={
            "label": _("Close"),
            "style": "success",
            "fields": ["result_report", "documentation_updated", "documentation_url"],
        },
    )
    def close(self, **audit):
        self.outcome = Outcome.SUCCESSFUL
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=State.CAUSE_ANALYSIS,
        target=State.CLOSED,
        conditions=[has_cause_findings, has_post_implementation_review],
        permission=at_least(Role.OPS_LEADER),
        custom={
            "label": _("Close as failed"),
            "style": "secondary",
            "fields": ["cause_findings", "documentation_updated", "documentation_url"],
        },
    )
    def close_failed(self, **audit):
        self.outcome = Outcome.FAILED
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=list(CANCELLABLE),
        target=State.CANCELLED,
        permission=is_requester_or_ops,
        custom={"label": _("Cancel"), "style": "outline-danger", "comment_required": True},
    )
    def cancel(self, **audit):
        self.closed_at = timezone.now()


class IncidentLink(models.Model):
    """An incident caused or fixed by a change."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="links")
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="change_links"
    )
    relation = models.CharField(_("relation"), max_length=12, choices=IncidentRelation.choices)

    class Meta:
        verbose_name = _("incident link")
        verbose_name_plural = _("incident links")
        constraints = [
            models.UniqueConstraint(
                fields=["change", "incident", "relation"], name="change_incident_link_unique"
            )
        ]


class Approval(models.Model):
    """A decision on a change: a reviewer's, the CAB's, or automatic for a standard change."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(_("kind"), max_length=20, choices=ApprovalKind.choices)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_approvals",
        verbose_name=_("approver"),
    )
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")

    def __str__(self) -> str:
        return f"{self.change} {self.decision}"


class CabVote(models.Model):
    """One CAB member's vote on a major change; changeable until the CAB has decided."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="votes")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cab_votes",
        verbose_name=_("member"),
    )
    vote = models.CharField(_("vote"), max_length=10, choices=Vote.choices)
    comment = models.TextField(_("comment"), blank=True)
    cast_at = models.DateTimeField(_("cast at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["cast_at", "id"]
        verbose_name = _("CAB vote")
        verbose_name_plural = _("CAB votes")
        constraints = [
            models.UniqueConstraint(fields=["change", "member"], name="cab_vote_one_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.change} {self.member}: {self.vote}"


class WorkLogEntry(models.Model):
    """§9.4 実施時 3 作業ログの記録: what was done, when, by whom."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="work_log")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="change_work_log",
        verbose_name=_("author"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    text = models.TextField(_("text"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("work log entry")
        verbose_name_plural = _("work log entries")

    def __str__(self) -> str:
        return f"{self.change} {self.at:%Y-%m-%d %H:%M}"


class VerificationCheck(models.Model):
    """The answer to one rollback criterion (§9.5) when a change was verified."""

    change = models.ForeignKey(
        ChangeRequest, on_delete=models.CASCADE, related_name="verification_checks"
    )
    criterion = models.ForeignKey(
        RollbackCriterion, on_delete=models.PROTECT, related_name="+", verbose_name=_("criterion")
    )
    triggered = models.BooleanField(_("criterion met"), default=False)
    note = models.TextField(_("note"), blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(_("checked at"), default=timezone.now)

    class Meta:
        ordering = ["criterion__sort_order", "id"]
        verbose_name = _("verification check")
        verbose_name_plural = _("verification checks")
        constraints = [
            models.UniqueConstraint(
                fields=["change", "criterion"], name="verification_check_unique"
            )
        ]
