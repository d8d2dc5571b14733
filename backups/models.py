"""Backup & recovery (seed §11): policies, jobs, RPO breaches, restore tests, DR plans and drills.

Deadlines are indexed columns swept by beat (DESIGN.md principle 1): ``BackupPolicy.rpo_due_at``
(last good backup + RPO), ``BackupPolicy.next_run_at`` (built-in executor),
``RestoreTest.due_on`` and ``DRPlan.drill_due_on`` (last drill + drill interval).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from itsm.core.models import NumberedModel
from itsm.core.roles import Role, at_least, system_only
from itsm.core.workflow import guard

from .choices import (
    DrillResult,
    IncidentPriority,
    JobKind,
    MediaType,
    Method,
    RetentionUnit,
    RpoStatus,
    StandbyType,
    TargetKind,
    Trigger,
)
from .cron import Cron, validate_cron


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, the day clamped to the shorter month
    (2026-11-30 + 3 months = 2027-02-28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# §11.1 3-2-1ルール: 3つのコピー、2つの異なるメディア、1つはオフサイト
MIN_COPIES = 3
MIN_MEDIA_TYPES = 2
MIN_OFFSITE = 1


class StorageLocation(models.Model):
    """Where backup copies are kept (§11.2 保管場所): a medium, on or off site, encrypted or not."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    media_type = models.CharField(_("media type"), max_length=20, choices=MediaType.choices)
    offsite = models.BooleanField(_("offsite"), default=False)
    encrypted = models.BooleanField(_("encrypted at rest"), default=False)
    path = models.CharField(
        _("path or URI"),
        max_length=500,
        blank=True,
        help_text=_("A local directory is written by the built-in executor."),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("storage location")
        verbose_name_plural = _("storage locations")

    def __str__(self) -> str:
        return self.name


@dataclass
class Compliance:
    ok: bool
    reasons: list[str] = field(default_factory=list)


class BackupPolicy(models.Model):
    """One row of §11.2 (target, method, schedule, retention, location) with its §11.3 RPO/RTO."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    target_kind = models.CharField(_("target"), max_length=20, choices=TargetKind.choices)
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    trigger = models.CharField(
        _("trigger"), max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE
    )
    frequency_label = models.CharField(
        _("frequency"),
        max_length=100,
        blank=True,
        help_text=_("As the policy table states it, e.g. “daily full + 6-hourly differential”."),
    )
    retention_count = models.PositiveIntegerField(_("retention"), validators=[MinValueValidator(1)])
    retention_unit = models.CharField(
        _("retention unit"),
        max_length=20,
        choices=RetentionUnit.choices,
        default=RetentionUnit.GENERATIONS,
    )
    rpo_minutes = models.PositiveIntegerField(
        _("RPO (minutes)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Maximum tolerated data loss; empty when not monitored."),
    )
    rto_minutes = models.PositiveIntegerField(
        _("RTO (minutes)"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    locations = models.ManyToManyField(
        StorageLocation, related_name="policies", blank=True, verbose_name=_("storage locations")
    )
    encrypt_backups = models.BooleanField(
        _("backups encrypted by the tool"),
        default=True,
        help_text=_("The backup tool encrypts each archive before it leaves the host."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    service = models.ForeignKey(
        "core.Service",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="backup_policies",
        verbose_name=_("service"),
    )
    breach_priority = models.CharField(
        _("priority of an RPO breach incident"),
        max_length=2,
        choices=IncidentPriority.choices,
        default=IncidentPriority.P2,
    )
    restore_test_interval_months = models.PositiveSmallIntegerField(
        _("restore test every (months)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text=_("§11.3: quarterly by default."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    display_order = models.PositiveSmallIntegerField(_("display order"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Denormalised for the sweeps (DESIGN.md principle 1); maintained by services.
    last_success_at = models.DateTimeField(_("last good backup"), null=True, blank=True)
    rpo_due_at = models.DateTimeField(_("RPO deadline"), null=True, blank=True, db_index=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["display_order", "name"]
        verbose_name = _("backup policy")
        verbose_name_plural = _("backup policies")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("backups:policy", args=[self.slug])

    @property
    def rpo(self) -> timedelta | None:
        return timedelta(minutes=self.rpo_minutes) if self.rpo_minutes else None

    def retention_display(self) -> str:
        return f"{self.retention_count} {self.get_retention_unit_display()}"

    def _locations(self) -> list[StorageLocation]:
        cache = getattr(self, "_prefetched_objects_cache", {})
        if "locations" in cache:
            return list(cache["locations"])
        return list(self.locations.all())

    def three_two_one(self) -> Compliance:
        """§11.1 3-2-1: ≥3 copies, ≥2 different media, ≥1 offsite.

        Each storage location holding the backup counts as one copy; the live data does not.
        """
        locations = self._locations()
        reasons = []
        copies = len(locations)
        media = {loc.media_type for loc in locations}
        offsite = sum(1 for loc in locations if loc.offsite)
        if copies < MIN_COPIES:
            reasons.append(gettext("%(n)s of %(min)s copies") % {"n": copies, "min": MIN_COPIES})
        if len(media) < MIN_MEDIA_TYPES:
            reasons.append(
                gettext("%(n)s of %(min)s media types") % {"n": len(media), "min": MIN_MEDIA_TYPES}
            )
        if offsite < MIN_OFFSITE:
            reasons.append(gettext("no offsite copy"))
        return Compliance(ok=not reasons, reasons=reasons)

    def encryption(self) -> Compliance:
        """§11.1 暗号化されたバックアップの保管: every copy is encrypted, by the tool or at rest."""
        if self.target_kind == TargetKind.PORTAL_DATABASE:
            from .crypto import ENV_KEY, configured_key

            if configured_key():
                return Compliance(ok=True)
            if self._locations() and all(loc.encrypted for loc in self._locations()):
                return Compliance(ok=True)
            return Compliance(ok=False, reasons=[gettext("%(env)s is not set") % {"env": ENV_KEY}])
        if self.encrypt_backups:
            return Compliance(ok=True)
        plain = [loc.name for loc in self._locations() if not loc.encrypted]
        if not self._locations():
            return Compliance(ok=False, reasons=[gettext("no storage location")])
        if plain:
            return Compliance(
                ok=False,
                reasons=[gettext("unencrypted copies at %(names)s") % {"names": ", ".join(plain)}],
            )
        return Compliance(ok=True)

    def rpo_status(self, now=None) -> str:
        """§11.3 RPO: where the last good backup stands against the RPO (docs/metrics.md).

        Only a good backup can be within the RPO: a monitored policy that never had one has
        nothing to restore — *no backup yet* while the first one is still due (one RPO after
        the policy's creation), *breached* once that deadline has passed (the sweep then opens
        the breach incident)."""
        if not self.rpo_minutes or not self.is_active:
            return RpoStatus.NOT_MONITORED
        now = now or timezone.now()
        if self.last_success_at is None:
            if self.rpo_due_at is not None and self.rpo_due_at <= now:
                return RpoStatus.BREACHED
            return RpoStatus.NO_BACKUP
        due = self.rpo_due_at or self.last_success_at + self.rpo
        if due <= now:
            return RpoStatus.BREACHED
        # Less than a quarter of the RPO left: the next backup must not fail.
        if due - now < self.rpo / 4:
            return RpoStatus.AT_RISK
        return RpoStatus.OK

    def crons(self) -> list[tuple[BackupSchedule, Cron]]:
        return [(s, Cron.parse(s.cron)) for s in self.schedules.all()]

    def next_scheduled_run(self, after=None):
        """The next run of any of the policy's cron schedules, in local time."""
        after = timezone.localtime(after or timezone.now())
        runs = [c.next_after(after) for _s, c in self.crons()]
        runs = [r for r in runs if r is not None]
        return min(runs) if runs else None


class BackupSchedule(models.Model):
    """One cron line of a policy (§11.2 gantt: フルバックアップ 00:00 2h, 差分 06:00 30m …)."""

    policy = models.ForeignKey(
        BackupPolicy, on_delete=models.CASCADE, related_name="schedules", verbose_name=_("policy")
    )
    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices)
    cron = models.CharField(
        _("cron expression"),
        max_length=100,
        validators=[validate_cron],
        help_text=_("minute hour day-of-month month day-of-week, e.g. “0 6,12,18 * * *”."),
    )
    expected_duration_minutes = models.PositiveIntegerField(
        _("expected duration (minutes)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
    )

    class Meta:
        ordering = ["policy", "id"]
        verbose_name = _("backup schedule")
        verbose_name_plural = _("backup schedules")

    def __str__(self) -> str:
        return f"{self.policy} · {self.label} ({self.cron})"


@guard(_("A successful job needs its finish time."))
def has_finish_time(job) -> bool:
    return job.finished_at is not None


class BackupJob(ConcurrentTransitionMixin, NumberedModel):
    """One backup run (DESIGN.md: scheduled → running → succeeded/failed; → verified; → expired)."""

    NUMBER_PREFIX = "BKP"

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        VERIFIED = "verified", _("Verified")
        EXPIRED = "expired", _("Expired")

    STATE_COLORS = {
        "scheduled": "secondary",
        "running": "info",
        "succeeded": "success",
        "failed": "danger",
        "verified": "primary",
        "expired": "light",
    }
    GOOD_STATES = (State.SUCCEEDED, State.VERIFIED)

    state = FSMField(_("state"), default=State.SCHEDULED, choices=State.choices, protected=True)
    policy = models.ForeignKey(
        BackupPolicy, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("policy")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices, default=JobKind.FULL)
    external_id = models.CharField(
        _("external id"),
        max_length=200,
        null=True,
        blank=True,
        help_text=_("The backup tool's own run id; reporting it twice updates the same job."),
    )
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    locations = models.ManyToManyField(
        StorageLocation, related_name="jobs", blank=True, verbose_name=_("stored at")
    )
    checksum = models.CharField(
        _("checksum"), max_length=200, blank=True, help_text=_("e.g. sha256:…")
    )
    error = models.TextField(_("error"), blank=True)
    archive_path = models.CharField(_("archive"), max_length=500, blank=True)
    encrypted = models.BooleanField(_("encrypted"), default=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reported by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "external_id"],
                condition=Q(external_id__isnull=False),
                name="backups_job_unique_external_id",
            )
        ]
        indexes = [models.Index(fields=["policy", "state", "finished_at"])]
        verbose_name = _("backup job")
        verbose_name_plural = _("backup jobs")

    def get_absolute_url(self) -> str:
        return reverse("backups:job", args=[self.number])

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def duration_seconds(self) -> int | None:
        d = self.duration
        return int(d.total_seconds()) if d is not None else None

    @transition(
        field=state,
        source=State.SCHEDULED,
        target=State.RUNNING,
        permission=at_least(Role.OPERATOR),
        custom={"label": _("Start"), "style": "info"},
    )
    def start(self, **audit):
        self.started_at = self.started_at or timezone.now()

    @transition(
        field=state,
        source=[State.SCHEDULED, State.RUNNING],
        target=State.SUCCEEDED,
        permission=at_least(Role.OPERATOR),
        custom={"label": _("Succeeded"), "style": "success", "fields": ["size_bytes", "checksum"]},
    )
    def succeed(self, **audit):
        self.finished_at = self.finished_at or timezone.now()
        self.started_at = self.started_at or self.finished_at
        self.error = ""

    @transition(
        field=state,
        source=[State.SCHEDULED, State.RUNNING],
        target=State.FAILED,
        permission=at_least(Role.OPERATOR),
        custom={"label": _("Failed"), "style": "danger", "fields": ["error"]},
    )
    def fail(self, **audit):
        self.finished_at = self.finished_at or timezone.now()

    @transition(
        field=state,
        source=State.SUCCEEDED,
        target=State.VERIFIED,
        permission=at_least(Role.OPERATOR),
        custom={"label": _("Verified"), "style": "primary"},
    )
    def verify(self, **audit):
        self.verified_at = timezone.now()

    @transition(
        field=state,
        source=[State.SUCCEEDED, State.VERIFIED, State.FAILED],
        target=State.EXPIRED,
        permission=system_only,  # the retention sweep's alone (§11.2 世代管理)
        custom={"label": _("Expire"), "hidden": True},
    )
    def expire(self, **audit):
        self.expired_at = timezone.now()


class RpoBreach(models.Model):
    """A period in which a policy's last good backup was older than its RPO (§11.3).

    At most one open breach per policy (database constraint), so the sweep opens one incident
    per breach however often it runs; a later good backup closes it.
    """

    policy = models.ForeignKey(
        BackupPolicy,
        on_delete=models.CASCADE,
        related_name="rpo_breaches",
        verbose_name=_("policy"),
    )
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)
    last_success_at = models.DateTimeField(_("last good backup"), null=True, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("incident"),
    )
    recovered_at = models.DateTimeField(_("recovered at"), null=True, blank=True)
    recovered_by_job = models.ForeignKey(
        BackupJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recovered by"),
    )

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy"],
                condition=Q(recovered_at__isnull=True),
                name="backups_one_open_rpo_breach",
            )
        ]
        verbose_name = _("RPO breach")
        verbose_name_plural = _("RPO breaches")

    def __str__(self) -> str:
        return f"{self.policy} @ {self.detected_at:%Y-%m-%d %H:%M}"


@guard(_("Record the measured restore time."))
def has_restore_minutes(test) -> bool:
    return test.restore_minutes is not None


@guard(
    _(
        "The measured restore time exceeds the policy's RTO: the test can pass only with an RTO "
        "exception and its reason, granted by an ops manager or the policy owner."
    )
)
def within_rto_or_excepted(test) -> bool:
    """§11.3 RTO: a restore slower than the RTO is not a pass unless someone accountable for the
    policy accepts it, by name and with a reason (the service sets ``rto_exception_by`` only
    for a person who may grant it: :func:`may_grant_rto_exception`)."""
    if test.within_rto is not False:
        return True
    return bool(test.rto_exception_reason.strip()) and test.rto_exception_by_id is not None


def may_grant_rto_exception(user, policy: BackupPolicy) -> bool:
    """An ops manager (or above) or the policy's owner, who answers for its RTO."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if _is_ops_manager(None, user):
        return True
    return policy.owner_id is not None and policy.owner_id == user.pk


_is_ops_manager = at_least(Role.OPS_MANAGER)


class RestoreTest(ConcurrentTransitionMixin, NumberedModel):
    """§11.3 リカバリテスト: planned per policy (quarterly), target, success criteria, result."""

    NUMBER_PREFIX = "RST"

    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        RUNNING = "running", _("Running")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")

    STATE_COLORS = {
        "planned": "secondary",
        "running": "info",
        "passed": "success",
        "failed": "danger",
    }
    OPEN_STATES = (State.PLANNED, State.RUNNING)

    state = FSMField(_("state"), default=State.PLANNED, choices=State.choices, protected=True)
    policy = models.ForeignKey(
        BackupPolicy,
        on_delete=models.PROTECT,
        related_name="restore_tests",
        verbose_name=_("policy"),
    )
    due_on = models.DateField(_("due on"), db_index=True)
    target = models.CharField(
        _("test target"),
        max_length=200,
        help_text=_("What is restored, e.g. “the latest full + differential into staging”."),
    )
    success_criteria = models.TextField(_("success criteria"))
    executed_at = models.DateTimeField(_("executed at"), null=True, blank=True)
    restore_minutes = models.PositiveIntegerField(
        _("measured restore time (minutes)"), null=True, blank=True
    )
    notes = models.TextField(_("notes"), blank=True)
    backup_job = models.ForeignKey(
        BackupJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="restore_tests",
        verbose_name=_("restored backup"),
    )
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("performed by"),
    )
    # Set by the overdue sweep once the policy owner has been told (once per test).
    overdue_notified_at = models.DateTimeField(_("overdue notified at"), null=True, blank=True)
    # §11.3 RTO exception: a pass slower than the RTO, accepted by name and with a reason.
    rto_exception_reason = models.TextField(
        _("RTO exception reason"),
        blank=True,
        help_text=_(
            "Only when the measured restore time exceeds the RTO and the test should still pass: "
            "why it is accepted. Only an ops manager or the policy owner may grant it."
        ),
    )
    rto_exception_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("RTO exception granted by"),
    )
    rto_exception_at = models.DateTimeField(_("RTO exception granted at"), null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("restore test")
        verbose_name_plural = _("restore tests")

    def get_absolute_url(self) -> str:
        return reverse("backups:restore_test", args=[self.number])

    @property
    def is_open(self) -> bool:
        """Planned or running: its date is the due date; a finished test's is when it ran."""
        return self.state in self.OPEN_STATES

    @property
    def is_overdue(self) -> bool:
        return self.state in self.OPEN_STATES and self.due_on < timezone.localdate()

    @property
    def within_rto(self) -> bool | None:
        if self.restore_minutes is None or not self.policy.rto_minutes:
            return None
        return self.restore_minutes <= self.policy.rto_minutes

    @transition(
        field=state,
        source=State.PLANNED,
        target=State.RUNNING,
        permission=at_least(Role.OPERATOR),
        custom={"label": _("Start test"), "style": "info"},
    )
    def start(self, **audit):
        self.executed_at = timezone.now()
        self.performed_by = audit.get("by") or self.performed_by

    @transition(
        field=state,
        source=[State.PLANNED, State.RUNNING],
        target=State.PASSED,
        conditions=[has_restore_minutes, within_rto_or_excepted],
        permission=at_least(Role.OPERATOR),
        custom={
            "label": _("Passed"),
            "style": "success",
            "fields": ["restore_minutes", "notes", "rto_exception_reason"],
        },
    )
    def pass_test(self, **audit):
        self.executed_at = self.executed_at or timezone.now()
        self.performed_by = audit.get("by") or self.performed_by
        if self.within_rto is False:
            self.rto_exception_at = timezone.now()
        else:
            # Within the RTO nothing is excepted; an offered reason is not recorded as one.
            self.rto_exception_reason, self.rto_exception_by, self.rto_exception_at = "", None, None

    @property
    def has_rto_exception(self) -> bool:
        return self.rto_exception_at is not None

    @transition(
        field=state,
        source=[State.PLANNED, State.RUNNING],
        target=State.FAILED,
        permission=at_least(Role.OPERATOR),
        custom={
            "label": _("Failed"),
            "style": "danger",
            "fields": ["restore_minutes", "notes"],
            "comment_required": True,
        },
    )
    def fail_test(self, **audit):
        self.executed_at = self.executed_at or timezone.now()
        self.performed_by = audit.get("by") or self.performed_by


class DRPlan(models.Model):
    """§11.4 DR方針 plus the §11.3 system-wide recovery objective (システム全体)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    has_dr_site = models.BooleanField(_("DR site"), default=False)
    dr_site = models.CharField(_("DR site location"), max_length=200, blank=True)
    standby_type = models.CharField(
        _("DR configuration"), max_length=10, choices=StandbyType.choices, default=StandbyType.COLD
    )
    system_rpo_minutes = models.PositiveIntegerField(
        _("system-wide RPO (minutes)"), validators=[MinValueValidator(1)]
    )
    system_rto_minutes = models.PositiveIntegerField(
        _("system-wide RTO (minutes)"), validators=[MinValueValidator(1)]
    )
    drill_interval_months = models.PositiveSmallIntegerField(
        _("drill every (months)"), default=12, validators=[MinValueValidator(1)]
    )
    notes = models.TextField(_("notes"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
        help_text=_("Told once when a drill is overdue."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Denormalised for the sweep (DESIGN.md principle 1); maintained by services.schedule_dr_drill.
    drill_due_on = models.DateField(_("next drill due on"), null=True, blank=True, db_index=True)
    # The due date the owner was told about; a new due date (a drill held) is told again.
    drill_overdue_notified_on = models.DateField(
        _("overdue drill notified for"), null=True, blank=True
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("DR plan")
        verbose_name_plural = _("DR plans")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{reverse('backups:dr')}#plan-{self.pk}"

    def next_drill_due(self, last_held_on: date | None) -> date:
        """§11.4 訓練: the last drill (or the plan's creation) + ``drill_interval_months``."""
        start = last_held_on or timezone.localdate(self.created_at)
        return add_months(start, self.drill_interval_months)

    @property
    def drill_overdue(self) -> bool:
        return self.drill_due_on is not None and self.drill_due_on < timezone.localdate()


class DRScenario(models.Model):
    """§11.4 DR切り替えシナリオ: condition, decision criteria, switchover time target."""

    plan = models.ForeignKey(
        DRPlan, on_delete=models.CASCADE, related_name="scenarios", verbose_name=_("DR plan")
    )
    name = models.CharField(_("scenario"), max_length=100)
    trigger_condition = models.TextField(_("trigger condition"))
    decision_criteria = models.TextField(_("switchover decision"))
    target_minutes = models.PositiveIntegerField(
        _("switchover time target (minutes)"), validators=[MinValueValidator(1)]
    )
    display_order = models.PositiveSmallIntegerField(_("display order"), default=0)

    class Meta:
        ordering = ["plan", "display_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="backups_unique_scenario_name")
        ]
        verbose_name = _("DR scenario")
        verbose_name_plural = _("DR scenarios")

    def __str__(self) -> str:
        return self.name


class DRDrill(models.Model):
    """A DR drill: which scenario, when, the measured switchover time and what was learnt."""

    scenario = models.ForeignKey(
        DRScenario, on_delete=models.PROTECT, related_name="drills", verbose_name=_("scenario")
    )
    held_on = models.DateField(_("held on"))
    measured_minutes = models.PositiveIntegerField(
        _("measured switchover time (minutes)"), null=True, blank=True
    )
    result = models.CharField(_("result"), max_length=10, choices=DrillResult.choices)
    findings = models.TextField(_("findings"), blank=True)
    conducted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("conducted by"),
    )

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("DR drill")
        verbose_name_plural = _("DR drills")

    def __str__(self) -> str:
        return f"{self.scenario} {self.held_on}"

    @property
    def within_target(self) -> bool | None:
        if self.measured_minutes is None:
            return None
        return self.measured_minutes <= self.scenario.target_minutes
