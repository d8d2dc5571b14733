"""Escalation (seed §8.4): policies as data, the clock on each incident, the steps taken.

- ``EscalationPolicy`` / ``EscalationLevel``: the ladder L1 運用担当者 → L2 運用リーダー (15 min)
  → L3 運用マネージャー (30 min) → L4 開発チーム (60 min), and L5 経営層 told when an incident at
  L3 has major impact. Seeded by migration 0003 for the urgent (P1/P2) and normal (P3/P4)
  tracks, edited in the admin.
- ``IncidentEscalation``: the clock of one incident with the policy copied onto it when the
  clock starts, so editing a policy never changes an escalation in flight.
- ``EscalationStep``: each step taken (warning, response breach, automatic or manual level,
  notify-only branch). Unique per (incident, key): a step applies once, whoever races for it.

The next deadline of an incident is ``Incident.next_deadline_at`` (indexed), which the sweep
reads; the rules that compute it live in ``incidents.escalation``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from itsm.core.models import Service, Team
from itsm.core.roles import Role
from oncall.models import Schedule

from ..choices import Clock, EscalationCondition, Track
from ..snapshot import LevelSnapshot, PolicySnapshot, StoredSnapshot
from .incident import Incident


class EscalationReason(models.TextChoices):
    """Why a step was taken. The manual ones are the seed's §8.4 エスカレーション基準."""

    NOT_RECOVERED = "not_recovered", _("Not recovered within the set time")
    IMPACT_EXPANDING = "impact_expanding", _("Impact is expanding")
    TECHNICAL_DECISION = "technical_decision", _("A technical decision is needed")
    BUSINESS_DECISION = "business_decision", _("A business decision is needed")
    RESPONSE_BREACH = "response_breach", _("Response target breached")
    RESPONSE_WARNING = "response_warning", _("Response target approaching")
    MAJOR_IMPACT = "major_impact", _("Major impact")
    REPORTED = "reported", _("Incident reported")
    REOPENED = "reopened", _("Incident reopened")
    NOT_ACKNOWLEDGED = "not_acknowledged", _("Nobody acknowledged the page")
    UPDATE_OVERDUE = "update_overdue", _("Stakeholder update overdue")


MANUAL_REASONS = [
    EscalationReason.NOT_RECOVERED,
    EscalationReason.IMPACT_EXPANDING,
    EscalationReason.TECHNICAL_DECISION,
    EscalationReason.BUSINESS_DECISION,
]


class StepKind(models.TextChoices):
    REPORT = "report", _("Report")
    WARNING = "warning", _("Warning")
    BREACH = "breach", _("Response breach")
    AUTOMATIC = "automatic", _("Automatic escalation")
    MANUAL = "manual", _("Manual escalation")
    NOTIFY = "notify", _("Notification")


STEP_COLORS = {
    StepKind.REPORT: "secondary",
    StepKind.WARNING: "warning",
    StepKind.BREACH: "danger",
    StepKind.AUTOMATIC: "danger",
    StepKind.MANUAL: "primary",
    StepKind.NOTIFY: "dark",
}

LEVEL_LABELS = {
    1: _("L1: Operators"),
    2: _("L2: Ops leaders"),
    3: _("L3: Ops managers"),
    4: _("L4: Developers"),
    5: _("L5: Executives"),
}


def level_label(level: int | None) -> str:
    return str(LEVEL_LABELS.get(level, f"L{level}")) if level else "—"


class EscalationPolicy(models.Model):
    """An escalation ladder for one track, optionally for one service only."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    track = models.CharField(_("track"), max_length=10, choices=Track.choices)
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="escalation_policies",
        verbose_name=_("service"),
        help_text=_("Empty: the default for the track. Set: only for this service's incidents."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    response_warning_percents = models.CharField(
        _("response warnings (%)"),
        max_length=50,
        default="50,75",
        help_text=_(
            "Warn the assignee and team when this share of the response target has passed "
            "without a response (comma-separated percentages; empty: no warnings)."
        ),
    )

    class Meta:
        ordering = ["track", "service__name", "name"]
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")

    def __str__(self) -> str:
        return self.name

    def warning_fractions(self) -> list[float]:
        return parse_percents(self.response_warning_percents)

    def snapshot(self, *, clock: str = Clock.ALWAYS) -> PolicySnapshot:
        """The policy as it is now, copied onto an incident when its clock starts; ``clock``:
        the clock of the incident's response target (business hours for P4)."""
        return PolicySnapshot(
            policy=self.name,
            warnings=tuple(self.warning_fractions()),
            levels=tuple(level.as_snapshot() for level in self.levels.all()),
            clock=clock,
        )


def parse_percents(text: str) -> list[float]:
    """``"50, 75"`` → ``[0.5, 0.75]``; raises ValueError on anything else."""
    values = []
    for part in (text or "").split(","):
        part = part.strip().rstrip("%")
        if not part:
            continue
        number = float(part)
        if not 0 < number < 100:
            raise ValueError(part)
        values.append(number / 100)
    return sorted(set(values))


class EscalationLevel(models.Model):
    """One rung of a policy. A chain level raises the incident's level ``delay_minutes`` after
    level ``after_level`` was reached (without recovery); a notify-only level (the seed's L5
    branch) tells its targets without raising the level."""

    policy = models.ForeignKey(
        EscalationPolicy, on_delete=models.CASCADE, related_name="levels", verbose_name=_("policy")
    )
    level = models.PositiveSmallIntegerField(
        _("level"), validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    after_level = models.PositiveSmallIntegerField(
        _("after level"),
        default=0,
        help_text=_("The level whose reaching starts this level's delay (0: the clock's start)."),
    )
    delay_minutes = models.PositiveIntegerField(_("delay (minutes)"), default=0)
    target_team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target team"),
        help_text=_("Empty: the teams on this rung of the ladder (team escalation level)."),
    )
    target_role = models.CharField(
        _("target role"), max_length=20, choices=Role.choices, blank=True
    )
    target_schedule = models.ForeignKey(
        Schedule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target on-call schedule"),
        help_text=_(
            "Page the person on call in this schedule (not the whole team). A gap in the "
            "schedule falls back to the schedule's team."
        ),
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target person"),
    )
    repeat_minutes = models.PositiveIntegerField(
        _("repeat page every (minutes)"),
        default=5,
        validators=[MaxValueValidator(24 * 60)],
        help_text=_(
            "An unacknowledged page is sent again at this interval until it is acknowledged "
            "or the incident escalates (0: never)."
        ),
    )
    condition = models.CharField(
        _("condition"),
        max_length=20,
        choices=EscalationCondition.choices,
        default=EscalationCondition.ALWAYS,
    )
    notify_only = models.BooleanField(
        _("notify only"),
        default=False,
        help_text=_("Tell the targets without raising the incident's level (L5 executives)."),
    )

    class Meta:
        ordering = ["policy", "level", "notify_only"]
        verbose_name = _("escalation level")
        verbose_name_plural = _("escalation levels")
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "level", "notify_only"], name="escalation_level_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy}: L{self.level}"

    def as_snapshot(self) -> LevelSnapshot:
        return LevelSnapshot(
            level=self.level,
            name=self.name or str(level_label(self.level)),
            after_level=self.after_level,
            delay_minutes=self.delay_minutes,
            team_id=self.target_team_id,
            team=str(self.target_team) if self.target_team_id else "",
            role=self.target_role,
            schedule_id=self.target_schedule_id,
            schedule=str(self.target_schedule) if self.target_schedule_id else "",
            user_id=self.target_user_id,
            user=str(self.target_user) if self.target_user_id else "",
            repeat_minutes=self.repeat_minutes,
            condition=self.condition,
            notify_only=self.notify_only,
        )


class SnapshotField(models.JSONField):
    """The clock's policy snapshot: JSON that keeps the text it was read from
    (``PolicySnapshot.read`` parses each text once per process)."""

    def from_db_value(self, value, expression, connection):
        data = super().from_db_value(value, expression, connection)
        if isinstance(value, str) and isinstance(data, dict):
            data = StoredSnapshot(data)
            data.text = value
        return data


class IncidentEscalation(models.Model):
    """The escalation clock of one incident and the policy snapshot it runs on.

    ``cycle`` counts clock starts (a reopen starts cycle 2); ``level_reached_at`` is when the
    current level was reached (the due time for automatic steps, so timings never drift).
    """

    incident = models.OneToOneField(
        Incident,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="escalation",
        verbose_name=_("incident"),
    )
    policy = models.ForeignKey(
        EscalationPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("policy"),
    )
    snapshot = SnapshotField(_("policy snapshot"), default=dict)
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=1)
    started_at = models.DateTimeField(_("clock started at"))
    level_reached_at = models.DateTimeField(_("level reached at"))
    stopped_at = models.DateTimeField(_("clock stopped at"), null=True, blank=True)
    response_breached_at = models.DateTimeField(
        _("response target breached at"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("incident escalation clock")
        verbose_name_plural = _("incident escalation clocks")

    def __str__(self) -> str:
        return f"{self.incident_id} ({self.policy_name})"

    @property
    def policy_snapshot(self) -> PolicySnapshot:
        """The stored snapshot, validated and typed (read once per instance)."""
        cached = self.__dict__.get("_policy_snapshot")
        if cached is None or cached[0] is not self.snapshot:
            cached = (self.snapshot, PolicySnapshot.read(self.snapshot))
            self.__dict__["_policy_snapshot"] = cached
        return cached[1]

    @property
    def policy_name(self) -> str:
        return self.policy_snapshot.policy


class EscalationStep(models.Model):
    """A step of an incident's escalation: who was told, at which level, why, when, by whom."""

    COLORS = STEP_COLORS

    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        db_index=False,  # escalation_step_once leads with it
        related_name="escalation_steps",
        verbose_name=_("incident"),
    )
    key = models.CharField(_("step"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=StepKind.choices)
    level = models.PositiveSmallIntegerField(_("level"), null=True, blank=True)
    from_level = models.PositiveSmallIntegerField(_("from level"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=30, choices=EscalationReason.choices)
    comment = models.TextField(_("comment"), blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    applied_at = models.DateTimeField(_("applied at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    notified = models.PositiveIntegerField(_("people notified"), default=0)

    class Meta:
        ordering = ["applied_at", "id"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        constraints = [
            models.UniqueConstraint(fields=["incident", "key"], name="escalation_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.key}"

    @property
    def color(self) -> str:
        return STEP_COLORS.get(self.kind, "secondary")

    @property
    def level_label(self) -> str:
        return level_label(self.level)

    @property
    def who(self) -> str:
        return str(self.actor) if self.actor_id else str(_("the clock"))
