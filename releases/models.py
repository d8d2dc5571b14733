"""Release management (seed §10): releases moving through the five environments of the release
flow (§10.3), the deployments reported for each environment, and the release cadence (§10.2)
that generates planned release slots.

State machine (DESIGN.md § Release)::

    planned → development → testing → staging → canary → production → completed
    testing / staging --NG--> development            (reason required, failure counted)
    canary (or production) --NG--> rolled_back      (reason required, rollback recorded)
    staging → production skipping canary             (only when the strategy is not canary)
    rolled_back → development                        (rework after a rollback)

Entering production requires what the pipeline change gate requires (one rule,
``changes.gate.change_gate``): a linked change request for the release's service that is
approved, scheduled or implementing, whose planned window covers now, whose pre-change backup
requirement is met, and — inside a freeze window — that is exempt from freezes
(``has_approved_change_covering_now``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from changes.choices import DeploymentEnvironment
from changes.gate import GATE_STATES, GateDecision, change_gate
from itsm.core.models import NumberedModel
from itsm.core.roles import Role, any_of, at_least
from itsm.core.workflow import guard

from .choices import (
    DEPLOYMENT_RESULT_COLORS,
    FINISHED_RESULTS,
    RELEASE_TYPE_COLORS,
    RESULT_TO_STATUS,
    DeploymentResult,
    Frequency,
    ReleaseType,
    Stage,
    Strategy,
)

# Change request states in which the change authorises its release to reach production (§9.3:
# 承認 → 実施計画 → 変更実施); the same states the change gate reads.
AUTHORISING_CHANGE_STATES = GATE_STATES

# Who moves a release through the pre-production environments: the developers who build it and
# the operations ladder from L2 up who run the environments. Production belongs to operations.
release_team = any_of(Role.DEVELOPER, Role.OPS_LEADER, Role.OPS_MANAGER)
production_gate = at_least(Role.OPS_LEADER)


class Environment(models.Model):
    """One of the five environments of §10.3 with its role (各環境の役割), kept as data."""

    code = models.CharField(_("code"), max_length=20, choices=Stage.choices, unique=True)
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=200)
    order = models.PositiveSmallIntegerField(_("order"))

    class Meta:
        ordering = ["order"]
        verbose_name = _("environment")
        verbose_name_plural = _("environments")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return gettext(self.name)

    @property
    def display_role(self) -> str:
        return gettext(self.role)


class ReleaseCadence(models.Model):
    """§10.2 リリーススケジュール: per release type, how often and when release slots fall.

    Weekly slots fall on ``weekday``; monthly ones on the ``week_of_month``-th ``weekday``;
    quarterly ones likewise in the ``month_of_quarter``-th month of each calendar quarter.
    A slot that falls on a holiday or company closure moves to the next business day.
    Hotfixes (随時) have no slots.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    release_type = models.CharField(
        _("release type"), max_length=10, choices=ReleaseType.choices, unique=True
    )
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices)
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), choices=Weekday.choices, default=Weekday.TUESDAY
    )
    week_of_month = models.PositiveSmallIntegerField(
        _("week of month"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text=_("Monthly and quarterly slots: the n-th weekday of the month (1–4)."),
    )
    month_of_quarter = models.PositiveSmallIntegerField(
        _("month of quarter"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text=_("Quarterly slots: the month within each quarter (1–3)."),
    )
    time_of_day = models.TimeField(_("time of day"), default=dt.time(10, 0))
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=120)
    horizon_months = models.PositiveSmallIntegerField(
        _("planning horizon (months)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
    )
    target = models.CharField(_("scope"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("release cadence")
        verbose_name_plural = _("release cadences")

    def __str__(self) -> str:
        return f"{self.get_release_type_display()}: {self.get_frequency_display()}"

    @property
    def display_target(self) -> str:
        return gettext(self.target)


class ReleaseSlot(models.Model):
    """A planned release date generated from a cadence; releases are created for a slot."""

    release_type = models.CharField(_("release type"), max_length=10, choices=ReleaseType.choices)
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"))
    cadence = models.ForeignKey(
        ReleaseCadence,
        on_delete=models.CASCADE,
        related_name="slots",
        verbose_name=_("cadence"),
    )

    class Meta:
        ordering = ["starts_at", "release_type"]
        verbose_name = _("release slot")
        verbose_name_plural = _("release slots")
        constraints = [
            models.UniqueConstraint(
                fields=["release_type", "starts_at"], name="release_slot_unique_start"
            )
        ]

    @property
    def type_color(self) -> str:
        return RELEASE_TYPE_COLORS.get(self.release_type, "secondary")

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        return f"{self.get_release_type_display()} {local:%Y-%m-%d %H:%M}"


# --------------------------------------------------------------------------- guards


@guard(
    _(
        "Production needs a linked change request for the release's service that is approved, "
        "scheduled or implementing, whose planned window covers now and whose pre-change backup "
        "is recorded (inside a freeze window: an emergency change)."
    )
)
def has_approved_change_covering_now(release) -> bool:
    """§9 → §10: the pipeline change gate's rule, among the release's linked changes."""
    if release.pk is None:
        return False
    return release.production_decision().allowed


@guard(_("A canary release cannot skip the canary environment."))
def strategy_is_not_canary(release) -> bool:
    return release.strategy != Strategy.CANARY


# --------------------------------------------------------------------------- release


class Release(ConcurrentTransitionMixin, NumberedModel):
    NUMBER_PREFIX = "REL"

    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DEVELOPMENT = "development", _("Development environment")
        TESTING = "testing", _("Test environment")
        STAGING = "staging", _("Staging environment")
        CANARY = "canary", _("Canary environment")
        PRODUCTION = "production", _("Production environment")
        COMPLETED = "completed", _("Completed")
        ROLLED_BACK = "rolled_back", _("Rolled back")

    STATE_COLORS = {
        State.PLANNED: "secondary",
        State.DEVELOPMENT: "info",
        State.TESTING: "info",
        State.STAGING: "primary",
        State.CANARY: "warning",
        State.PRODUCTION: "success",
        State.COMPLETED: "dark",
        State.ROLLED_BACK: "danger",
    }
    OPEN_STATES = (
        State.PLANNED,
        State.DEVELOPMENT,
        State.TESTING,
        State.STAGING,
        State.CANARY,
        State.PRODUCTION,
    )

    state = FSMField(_("state"), default=State.PLANNED, choices=State.choices, protected=True)
    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=64)
    release_type = models.CharField(_("release type"), max_length=10, choices=ReleaseType.choices)
    service = models.ForeignKey(
        "core.Service",
        on_delete=models.PROTECT,
        related_name="releases",
        verbose_name=_("service"),
    )
    slot = models.ForeignKey(
        ReleaseSlot,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="releases",
        verbose_name=_("release slot"),
    )
    planned_at = models.DateTimeField(_("planned date"), db_index=True)
    strategy = models.CharField(_("deployment strategy"), max_length=12, choices=Strategy.choices)
    strategy_rationale = models.TextField(
        _("reason for the strategy"),
        blank=True,
        help_text=_("Why this deployment strategy was chosen (採用判断)."),
    )
    scope = models.TextField(_("scope"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_releases",
        verbose_name=_("owner"),
    )
    changes = models.ManyToManyField(
        "changes.ChangeRequest",
        related_name="releases",
        blank=True,
        verbose_name=_("change requests"),
    )
    testing_failures = models.PositiveIntegerField(_("failures in testing"), default=0)
    staging_failures = models.PositiveIntegerField(_("failures in staging"), default=0)
    canary_failures = models.PositiveIntegerField(_("failures in canary"), default=0)
    canary_skipped = models.BooleanField(_("canary skipped"), default=False)
    production_at = models.DateTimeField(_("reached production at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    rolled_back_at = models.DateTimeField(_("rolled back at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-planned_at", "-id"]
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        indexes = [models.Index(fields=["state", "planned_at"])]

    def get_absolute_url(self) -> str:
        return reverse("releases:detail", args=[self.number])

    def production_decision(self, at: dt.datetime | None = None) -> GateDecision:
        """The change gate's answer for deploying this release's service to production at ``at``
        (default now), counting only the change requests linked to the release."""
        return change_gate(
            service=self.service,
            environment=DeploymentEnvironment.PRODUCTION,
            at=at or timezone.now(),
            among=self.changes.all(),
        )

    def authorising_changes(self, at: dt.datetime | None = None) -> list:
        """Linked change requests that would each authorise production at ``at`` (default now)."""
        at = at or timezone.now()
        return [
            change
            for change in self.changes.all()
            if change_gate(
                service=self.service,
                environment=DeploymentEnvironment.PRODUCTION,
                at=at,
                among=self.changes.filter(pk=change.pk),
            ).allowed
        ]

    @property
    def type_color(self) -> str:
        return RELEASE_TYPE_COLORS.get(self.release_type, "secondary")

    def failures_at(self, stage: str) -> int:
        return getattr(self, f"{stage}_failures", 0)

    # --- transitions: each changes only this record; services create the implied records.

    @transition(
        field=state,
        source=State.PLANNED,
        target=State.DEVELOPMENT,
        permission=release_team,
        custom={"label": _("Start development"), "style": "primary"},
    )
    def start_development(self, **audit):
        pass

    @transition(
        field=state,
        source=State.DEVELOPMENT,
        target=State.TESTING,
        permission=release_team,
        custom={"label": _("Promote to testing"), "style": "primary"},
    )
    def promote_to_testing(self, **audit):
        pass

    @transition(
        field=state,
        source=State.TESTING,
        target=State.STAGING,
        permission=release_team,
        custom={"label": _("Promote to staging"), "style": "primary"},
    )
    def promote_to_staging(self, **audit):
        pass

    @transition(
        field=state,
        source=State.STAGING,
        target=State.CANARY,
        permission=release_team,
        custom={"label": _("Promote to canary"), "style": "primary"},
    )
    def promote_to_canary(self, **audit):
        pass

    @transition(
        field=state,
        source=State.CANARY,
        target=State.PRODUCTION,
        conditions=[has_approved_change_covering_now],
        permission=production_gate,
        custom={"label": _("Promote to production"), "style": "success"},
    )
    def promote_to_production(self, **audit):
        self.production_at = timezone.now()

    @transition(
        field=state,
        source=State.STAGING,
        target=State.PRODUCTION,
        conditions=[strategy_is_not_canary, has_approved_change_covering_now],
        permission=production_gate,
        custom={"label": _("Skip canary, promote to production"), "style": "outline-success"},
    )
    def skip_canary(self, **audit):
        self.canary_skipped = True
        self.production_at = timezone.now()

    @transition(
        field=state,
        source=State.PRODUCTION,
        target=State.COMPLETED,
        permission=production_gate,
        custom={"label": _("Complete"), "style": "success"},
    )
    def complete(self, **audit):
        self.completed_at = timezone.now()

    @transition(
        field=state,
        source=State.TESTING,
        target=State.DEVELOPMENT,
        permission=release_team,
        custom={
            "label": _("NG in testing: back to development"),
            "style": "danger",
            "comment_required": True,
        },
    )
    def fail_testing(self, **audit):
        self.testing_failures += 1

    @transition(
        field=state,
        source=State.STAGING,
        target=State.DEVELOPMENT,
        permission=release_team,
        custom={
            "label": _("NG in staging: back to development"),
            "style": "danger",
            "comment_required": True,
        },
    )
    def fail_staging(self, **audit):
        self.staging_failures += 1

    @transition(
        field=state,
        source=[State.CANARY, State.PRODUCTION],
        target=State.ROLLED_BACK,
        permission=release_team,
        custom={"label": _("Roll back"), "style": "danger", "comment_required": True},
    )
    def roll_back(self, **audit):
        if self.state == self.State.CANARY:
            self.canary_failures += 1
        self.rolled_back_at = timezone.now()

    @transition(
        field=state,
        source=State.ROLLED_BACK,
        target=State.DEVELOPMENT,
        permission=release_team,
        custom={"label": _("Rework in development"), "style": "secondary"},
    )
    def rework(self, **audit):
        pass


class Deployment(models.Model):
    """One deployment of a release to one environment, recorded by hand or by a CI/CD pipeline.

    ``external_id`` (the pipeline run id) makes reports idempotent: a pipeline that retries its
    report updates the same row. ``commits`` lists what the deployment ships with commit times,
    the input of the DORA lead time for changes.
    """

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="deployments", verbose_name=_("release")
    )
    environment = models.ForeignKey(
        Environment,
        on_delete=models.PROTECT,
        related_name="deployments",
        verbose_name=_("environment"),
    )
    version = models.CharField(_("version"), max_length=64)
    result = models.CharField(_("result"), max_length=12, choices=DeploymentResult.choices)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, db_index=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reported by"),
    )
    reported_via = models.CharField(
        _("reported via"),
        max_length=100,
        blank=True,
        help_text=_("The API token (pipeline) that reported it; empty when entered by hand."),
    )
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    external_url = models.URLField(_("pipeline run URL"), max_length=500, blank=True)
    repository_url = models.URLField(_("repository URL"), max_length=500, blank=True)
    log_url = models.URLField(_("log URL"), max_length=500, blank=True)
    commit_sha = models.CharField(_("commit"), max_length=64, blank=True)
    rollback_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rollbacks",
        verbose_name=_("rollback of"),
        help_text=_("The deployment this one rolls back."),
    )
    commits = models.JSONField(_("commits"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="deployment_unique_external_id",
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True)
                | models.Q(finished_at__gte=models.F("started_at")),
                name="deployment_finished_after_start",
            ),
        ]
        indexes = [models.Index(fields=["environment", "result", "finished_at"])]

    def __str__(self) -> str:
        return f"{self.release.number} → {self.environment.code} {self.version}"

    @property
    def result_color(self) -> str:
        return DEPLOYMENT_RESULT_COLORS.get(self.result, "secondary")

    @property
    def status(self) -> str:
        """The result in the API's ``status`` vocabulary (success / failure / …)."""
        return RESULT_TO_STATUS.get(self.result, self.result)

    @property
    def is_finished(self) -> bool:
        return self.result in FINISHED_RESULTS

    @property
    def reporter(self) -> str:
        if self.reported_via:
            return (
                f"{self.reported_by} ({self.reported_via})"
                if self.reported_by
                else self.reported_via
            )
        return str(self.reported_by) if self.reported_by else ""


class DeploymentIncident(models.Model):
    """§8 ↔ §10: an incident caused by a deployment. The DORA inputs read it: a deployment
    that caused an incident is a failed change, and the incident's recovery ends its
    failed-deployment recovery time."""

    deployment = models.ForeignKey(
        Deployment,
        on_delete=models.CASCADE,
        related_name="incident_links",
        verbose_name=_("deployment"),
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.CASCADE,
        related_name="causing_deployment_links",
        verbose_name=_("incident"),
    )
    note = models.TextField(_("notes"), blank=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("linked by"),
    )
    linked_via = models.CharField(_("linked via"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("incident caused by a deployment")
        verbose_name_plural = _("incidents caused by deployments")
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "incident"], name="deployment_incident_unique_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident.number} ← {self.deployment}"
