"""Incident management (seed §8.1–8.3): incidents, triage configuration, timeline, runbooks,
postmortems.

Configuration the seed gives as tables (the triage matrix, response targets, the P1–P4
definitions) is data here, seeded by migration 0002 and editable in the admin.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from itsm.core.models import NumberedModel, Service, Team
from itsm.core.roles import Role, any_of, at_least, ops_rank
from itsm.core.workflow import guard

from ..choices import (
    INCIDENT_STATE_COLORS,
    POSTMORTEM_STATE_COLORS,
    PRIORITY_COLORS,
    SLA_COLORS,
    TIMELINE_COLORS,
    TRACK_COLORS,
    BusinessImpact,
    Clock,
    FixStatus,
    ImpactScope,
    IncidentState,
    PostmortemKind,
    PostmortemState,
    Priority,
    SlaStatus,
    Source,
    TimelineKind,
    Track,
    Urgency,
    check_choice,
    lower_priority,
    track_for,
)

# --------------------------------------------------------------------------- configuration


class TriageRule(models.Model):
    """One cell of the triage matrix (§8.3.2): impact scope × business impact → priority."""

    impact_scope = models.CharField(_("impact scope"), max_length=20, choices=ImpactScope.choices)
    business_impact = models.CharField(
        _("business impact"), max_length=20, choices=BusinessImpact.choices
    )
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices)

    class Meta:
        ordering = ["impact_scope", "business_impact"]
        verbose_name = _("triage matrix cell")
        verbose_name_plural = _("triage matrix")
        constraints = [
            models.UniqueConstraint(
                fields=["impact_scope", "business_impact"], name="triage_rule_unique_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_impact_scope_display()} × {self.get_business_impact_display()} → {self.priority}"


class UrgencyRule(models.Model):
    """How urgency moves the matrix's priority: ``immediate`` keeps it, ``planned`` lowers it."""

    urgency = models.CharField(_("urgency"), max_length=20, choices=Urgency.choices, unique=True)
    priority_shift = models.PositiveSmallIntegerField(
        _("levels lowered"),
        default=0,
        validators=[MaxValueValidator(3)],
        help_text=_("How many priority levels this urgency lowers the matrix result (floor P4)."),
    )

    class Meta:
        ordering = ["urgency"]
        verbose_name = _("urgency rule")
        verbose_name_plural = _("urgency rules")

    def __str__(self) -> str:
        return f"{self.get_urgency_display()}: -{self.priority_shift}"


def priority_for(scope: str, impact: str, urgency: str) -> str:
    """§8.3.2 優先度判定: the triage matrix cell for (scope, impact), lowered by the urgency rule
    (floor P4) — both read from data (``TriageRule``, ``UrgencyRule``), defaults otherwise."""
    from ..defaults import TRIAGE_MATRIX, URGENCY_SHIFT

    check_choice("impact_scope", scope, ImpactScope)
    check_choice("business_impact", impact, BusinessImpact)
    check_choice("urgency", urgency, Urgency)
    from ..config_cache import current

    config = current()
    cell = config.triage.get((scope, impact)) or TRIAGE_MATRIX[(scope, impact)]
    shift = config.urgency_shift.get(urgency, URGENCY_SHIFT[urgency])
    return lower_priority(cell, shift)


class ResponseTarget(models.Model):
    """§8.1 インシデント分類: definition, examples and response target of one priority."""

    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, unique=True)
    definition = models.CharField(_("definition"), max_length=200)
    examples = models.TextField(_("examples"), blank=True)
    minutes = models.PositiveIntegerField(
        _("response target (minutes)"),
        validators=[MinValueValidator(1)],
        help_text=_("Time from detection to the start of response."),
    )
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices, default=Clock.ALWAYS)

    class Meta:
        ordering = ["priority"]
        verbose_name = _("response target")
        verbose_name_plural = _("response targets")

    def __str__(self) -> str:
        return f"{self.priority}: {self.minutes} min ({self.get_clock_display()})"

    def due_from(self, start: datetime) -> datetime:
        if self.clock == Clock.BUSINESS:
            from itsm.core.business_calendar import current_calendar

            return current_calendar().add_business_minutes(start, self.minutes)
        return start + timedelta(minutes=self.minutes)


class ResolutionTarget(models.Model):
    """Time from the clock start to recovery, per priority (issue 18: 復旧目標時間).

    ``minutes`` are real minutes on the 24×7 clock and business minutes on the business clock;
    "3 business days" is stored as 3 × the working day (3 × 540 = 1,620 business minutes with
    the default 09:00–18:00 day), see docs/sla.md."""

    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, unique=True)
    minutes = models.PositiveIntegerField(
        _("resolution target (minutes)"),
        validators=[MinValueValidator(1)],
        help_text=_(
            "Time from detection to recovery; business minutes when the clock is business hours."
        ),
    )
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices, default=Clock.ALWAYS)

    class Meta:
        ordering = ["priority"]
        verbose_name = _("resolution target")
        verbose_name_plural = _("resolution targets")

    def __str__(self) -> str:
        return f"{self.priority}: {self.minutes} min ({self.get_clock_display()})"

    @property
    def business(self) -> bool:
        return self.clock == Clock.BUSINESS

    def due_from(self, start: datetime) -> datetime:
        return self.advance(start, timedelta(minutes=self.minutes))

    def advance(self, start: datetime, amount: timedelta, calendar=None) -> datetime:
        """``start`` + ``amount`` on this target's clock."""
        if not self.business:
            return start + amount
        if calendar is None:
            from itsm.core.business_calendar import current_calendar

            calendar = current_calendar()
        return calendar.add_business_minutes(start, amount.total_seconds() / 60)


def resolution_target(priority: str) -> ResolutionTarget | None:
    """The priority's ``ResolutionTarget`` row, else the default (``incidents.defaults``)."""
    from ..config_cache import current

    if not priority:
        return None
    target = current().resolution_targets.get(priority)
    if target is None:
        from ..defaults import RESOLUTION_TARGETS

        if priority not in RESOLUTION_TARGETS:
            return None
        minutes, clock = RESOLUTION_TARGETS[priority]
        target = ResolutionTarget(priority=priority, minutes=minutes, clock=clock)
    return target


def resolution_due_for(priority: str, start: datetime) -> datetime | None:
    """The resolution deadline of an incident without holds: ``start`` + the target."""
    target = resolution_target(priority)
    return target.due_from(start) if target else None


class IncidentPolicy(models.Model):
    """Settings of incident handling that the seed leaves open (one row, pk=1)."""

    reopen_window_days = models.PositiveSmallIntegerField(
        _("reopen window (days)"),
        default=7,
        help_text=_("A closed incident may be reopened for this many days after closing."),
    )
    postmortem_due_business_days = models.PositiveSmallIntegerField(
        _("postmortem due (business days)"),
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_("A mandatory postmortem is due this many business days after the close."),
    )

    class Meta:
        verbose_name = _("incident policy")
        verbose_name_plural = _("incident policy")

    def __str__(self) -> str:
        return str(_("Incident policy"))

    @classmethod
    def current(cls) -> IncidentPolicy:
        policy = cls.objects.filter(pk=1).first()
        return policy if policy is not None else cls(pk=1)


# --------------------------------------------------------------------------- guards


@guard(_("Impact scope, business impact and urgency must be chosen."))
def has_triage_inputs(incident) -> bool:
    return bool(incident.impact_scope and incident.business_impact and incident.urgency)


@guard(_("A resolution summary is required before closing."))
def has_resolution_summary(incident) -> bool:
    return bool((incident.resolution_summary or "").strip())


@guard(_("A fix is already recorded: close as “root cause fixed”."))
def fix_statement_consistent(incident) -> bool:
    return not (incident.fix_status == FixStatus.WORKAROUND and incident.fixed_at is not None)


@guard(_("The reopen window has passed."))
def within_reopen_window(incident) -> bool:
    if incident.closed_at is None:
        return True
    window = timedelta(days=IncidentPolicy.current().reopen_window_days)
    return timezone.now() <= incident.closed_at + window


@guard(_("Somebody has responded: a failed verification goes back to recovery."))
def nobody_responded(incident) -> bool:
    return incident.response_started_at is None


def monitor_only(incident, user) -> bool:
    """Taken by the monitoring intake on its own (an integration's auto-recovery), never by a
    person: a person's recovery goes through ``start_response`` and ``verify``."""
    return False


monitor_only.description = _("the monitoring intake only")


def may_close(incident, user) -> bool:
    """§8.2: an urgent-track (P1/P2) incident is closed by an ops leader or above."""
    needed = 2 if incident.track == Track.URGENT else 1
    return ops_rank(user) >= needed


may_close.description = _("Operator or above; P1/P2: ops leader or above")


def through_links_only(incident, user) -> bool:
    """Taken by a merge or by the parent's "resolve children" (``incidents.merging``, which
    checks the person), never as a transition of its own."""
    return False


through_links_only.description = _("a merge, or the parent incident only")
may_close.refusal = lambda incident: (
    _("an ops leader or above: P1/P2 incidents")
    if incident.track == Track.URGENT
    else _("an operator or above")
)

# Who works an incident: the operations ladder plus developers (L4 takes escalated recovery).
responders = any_of(Role.OPERATOR, Role.OPS_LEADER, Role.OPS_MANAGER, Role.DEVELOPER)


# --------------------------------------------------------------------------- incident


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(state=IncidentState.CLOSED)

    def untriaged(self):
        return self.filter(state=IncidentState.DETECTED)


class Incident(ConcurrentTransitionMixin, NumberedModel):
    """An unplanned interruption or degradation of a service (§8.1 インシデント定義)."""

    NUMBER_PREFIX = "INC"
    STATE_COLORS = INCIDENT_STATE_COLORS
    State = IncidentState

    state = FSMField(
        _("state"), default=IncidentState.DETECTED, choices=IncidentState.choices, protected=True
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.USER_REPORT
    )
    # The sweep updates an incident at every step, writing every index it is in (issue 20):
    # indexes another one already covers (a composite leading with the column) are left out.
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,  # incident_metrics_service_detected, incident_open_service
        related_name="incidents",
        verbose_name=_("service"),
    )
    impact_scope = models.CharField(
        _("impact scope"), max_length=20, choices=ImpactScope.choices, blank=True
    )
    business_impact = models.CharField(
        _("business impact"), max_length=20, choices=BusinessImpact.choices, blank=True
    )
    urgency = models.CharField(_("urgency"), max_length=20, choices=Urgency.choices, blank=True)
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, blank=True)
    priority_overridden = models.BooleanField(_("priority overridden"), default=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,  # incident_assignee_state
        related_name="assigned_incidents",
        verbose_name=_("assignee"),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("team"),
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reported_incidents",
        verbose_name=_("reported by"),
    )
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)
    clock_started_at = models.DateTimeField(
        _("response clock started at"),
        null=True,
        blank=True,
        help_text=_(
            "When the portal received an alert that had started earlier: the response target "
            "and the escalation chain count from here. Empty: from detection."
        ),
    )
    triaged_at = models.DateTimeField(_("triaged at"), null=True, blank=True)
    response_due_at = models.DateTimeField(
        _("response due at"), null=True, blank=True, db_index=True
    )
    response_started_at = models.DateTimeField(_("response started at"), null=True, blank=True)
    # Issue 18: the resolution deadline with the holds taken so far (incidents.sla); empty while
    # on hold (the clock is paused, so there is no deadline) and before triage.
    resolution_due_at = models.DateTimeField(
        _("resolution due at"), null=True, blank=True, db_index=True
    )
    recovered_at = models.DateTimeField(_("recovered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    resolution_summary = models.TextField(_("resolution summary"), blank=True)
    # §8.2 復旧作業 vs 修正作業: recovery (recovered_at) may be a workaround; the root cause is
    # removed at fixed_at (incidents.services.record_fix, or the close when stated fixed).
    fix_status = models.CharField(
        _("root cause"),
        max_length=20,
        choices=FixStatus.choices,
        blank=True,
        help_text=_("Closing: is the root cause fixed, or was service restored by a workaround?"),
    )
    fixed_at = models.DateTimeField(_("fixed at"), null=True, blank=True)
    fix_change = models.CharField(
        _("fixed by change"),
        max_length=30,
        blank=True,
        help_text=_("The number of the change that removed the root cause, if any."),
    )
    # Seams for the escalation engine (§8.4, a later issue): its sweep reads next_deadline_at.
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation level"), null=True, blank=True
    )
    next_deadline_at = models.DateTimeField(
        _("next escalation deadline"), null=True, blank=True, db_index=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            # Any state (the list's filter): no pattern index, priorities are not searched.
            models.Index(fields=["priority"], name="incident_priority"),
            models.Index(fields=["state", "response_due_at"], name="incident_state_due"),
            models.Index(fields=["state", "detected_at"], name="incident_state_detected"),
            models.Index(fields=["assignee", "state"], name="incident_assignee_state"),
            # The status page and the update cadence read the few open incidents among many.
            models.Index(
                fields=["service", "priority"],
                condition=~models.Q(state=IncidentState.CLOSED),
                name="incident_open_service",
            ),
            models.Index(
                fields=["priority"],
                condition=~models.Q(state=IncidentState.CLOSED),
                name="incident_open_priority",
            ),
            # Time to fix reads the incidents fixed in a period (docs/metrics.md).
            models.Index(
                fields=["fixed_at"],
                condition=models.Q(fixed_at__isnull=False),
                name="incident_fixed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}" if self.number else self.title

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.number])

    @property
    def clock_from(self) -> datetime:
        """Where the response target and the escalation chain count from: detection, but no
        earlier than the moment the portal received the alert (an alert firing since 2024 must
        not be overdue, nor escalated to L4, the moment it arrives)."""
        if self.clock_started_at and self.clock_started_at > self.detected_at:
            return self.clock_started_at
        return self.detected_at

    # ---- derived values

    @property
    def track(self) -> str | None:
        return track_for(self.priority)

    def get_track_display(self) -> str:
        return str(Track(self.track).label) if self.track else ""

    @property
    def track_color(self) -> str:
        return TRACK_COLORS.get(self.track, "secondary")

    @property
    def priority_color(self) -> str:
        return PRIORITY_COLORS.get(self.priority, "light")

    @property
    def is_open(self) -> bool:
        return self.state != IncidentState.CLOSED

    @property
    def auto_recovered(self) -> bool:
        """Recovered by the monitor before anybody responded. ``response_started_at`` is set
        only by a response (a person, or an API client's acknowledgement) and every way to
        ``recovered_at`` but :meth:`auto_recover` passes through one, so recovered without a
        response start means the monitor recovered it (docs/metrics.md § Incidents)."""
        return self.recovered_at is not None and self.response_started_at is None

    @property
    def sla_status(self) -> str:
        """Response-target status (§8.1 対応目標時間), computed on read. An incident the
        monitor recovered before its deadline, with nobody responding, was not a response:
        it is *auto-recovered*, not met (after the deadline it stays breached).
        :func:`incidents.selectors.filter_sla` is the same rule as a query."""
        if self.response_due_at is None:
            return SlaStatus.PENDING
        if self.response_started_at is not None:
            return (
                SlaStatus.MET
                if self.response_started_at <= self.response_due_at
                else SlaStatus.BREACHED
            )
        if self.recovered_at is not None and self.recovered_at <= self.response_due_at:
            return SlaStatus.AUTO_RECOVERED
        return SlaStatus.BREACHED if timezone.now() > self.response_due_at else SlaStatus.ON_TRACK

    @property
    def response_sla_breached(self) -> bool:
        return self.sla_status == SlaStatus.BREACHED

    @property
    def sla_color(self) -> str:
        return SLA_COLORS[self.sla_status]

    def get_sla_status_display(self) -> str:
        return str(SlaStatus(self.sla_status).label)

    @property
    def time_to_recover(self) -> timedelta | None:
        return self.recovered_at - self.detected_at if self.recovered_at else None

    @property
    def time_to_fix(self) -> timedelta | None:
        return self.fixed_at - self.detected_at if self.fixed_at else None

    # ---- transitions (§8.2 インシデント対応フロー)

    @transition(
        field=state,
        source=IncidentState.DETECTED,
        target=IncidentState.TRIAGED,
        conditions=[has_triage_inputs],
        permission=at_least(Role.OPERATOR),
        custom={
            "label": _("Triage"),
            "fields": ["impact_scope", "business_impact", "urgency"],
            "style": "warning",
        },
    )
    def triage(self, **audit):
        self.set_triage_fields()

    def set_triage_fields(self) -> None:
        """What triage derives: the priority (unless overridden) and the targets. Also for an
        incident opened triaged (``services.open_incidents`` inserts it in that state)."""
        if not self.priority_overridden:
            self.priority = priority_for(self.impact_scope, self.business_impact, self.urgency)
        self.triaged_at = timezone.now()
        self.response_due_at = response_due_for(self.priority, self.clock_from)
        self.resolution_due_at = resolution_due_for(self.priority, self.clock_from)

    @transition(
        field=state,
        source=IncidentState.TRIAGED,
        target=IncidentState.INVESTIGATING,
        permission=responders,
        custom={"label": _("Start response"), "style": "primary"},
    )
    def start_response(self, **audit):
        self._respond(audit.get("by"))

    def _respond(self, by) -> None:
        """Work on the incident starts (or goes on): the first response is kept; the person
        taking it becomes the assignee when there is none. Taking up an auto-recovered
        incident (a failed verification, a reopen) is a response too."""
        self.response_started_at = self.response_started_at or timezone.now()
        if self.assignee_id is None and getattr(by, "pk", None):
            self.assignee = by

    @transition(
        field=state,
        source=IncidentState.INVESTIGATING,
        target=IncidentState.RECOVERING,
        permission=responders,
        custom={"label": _("Start recovery"), "style": "primary"},
    )
    def start_recovery(self, **audit):
        pass

    @transition(
        field=state,
        source=IncidentState.RECOVERING,
        target=IncidentState.VERIFYING,
        permission=responders,
        custom={"label": _("Recovered: verify"), "style": "info"},
    )
    def verify(self, **audit):
        # まず復旧: the service is back from here; verification confirms it.
        self.recovered_at = timezone.now()

    @transition(
        field=state,
        source=[IncidentState.TRIAGED, IncidentState.INVESTIGATING, IncidentState.RECOVERING],
        target=IncidentState.VERIFYING,
        permission=monitor_only,
        custom={"label": _("Recovered by monitoring"), "hidden": True},
    )
    def auto_recover(self, **audit):
        # Every alert resolved (integration setting "recover on resolve"): the service is back,
        # but nobody responded because of it — response_started_at and the assignee stay as
        # they are, so MTTA and response compliance count people only. A person verifies and
        # closes.
        self.recovered_at = timezone.now()

    @transition(
        field=state,
        source=IncidentState.VERIFYING,
        target=IncidentState.TRIAGED,
        conditions=[nobody_responded],
        permission=monitor_only,
        custom={"label": _("Alerts firing again"), "hidden": True},
    )
    def alerts_refire(self, **audit):
        # An auto-recovered incident nobody answered fires again: it waits for a response
        # again (its response target unchanged), instead of "recovering" with nobody on it.
        self.recovered_at = None

    @transition(
        field=state,
        source=IncidentState.VERIFYING,
        target=IncidentState.RECOVERING,
        permission=responders,
        custom={
            "label": _("Verification failed"),
            "style": "outline-danger",
            "comment_required": True,
        },
    )
    def reject_fix(self, **audit):
        self.recovered_at = None
        self._respond(audit.get("by"))

    @transition(
        field=state,
        source=IncidentState.VERIFYING,
        target=IncidentState.CLOSED,
        conditions=[has_resolution_summary, fix_statement_consistent],
        permission=may_close,
        custom={
            "label": _("Close"),
            "fields": ["resolution_summary", "fix_status"],
            "style": "success",
        },
    )
    def close(self, **audit):
        # まず復旧: closing on recovery is allowed. "Workaround only" leaves fixed_at empty and
        # the fix to a follow-up (incidents.services.close_incident); not stated means fixed.
        self.closed_at = timezone.now()
        if self.fix_status != FixStatus.WORKAROUND:
            self.fix_status = FixStatus.FIXED
            self.fixed_at = self.fixed_at or self.closed_at

    @transition(
        field=state,
        source=IncidentState.CLOSED,
        target=IncidentState.INVESTIGATING,
        conditions=[within_reopen_window],
        permission=at_least(Role.OPERATOR),
        custom={"label": _("Reopen"), "style": "outline-warning", "comment_required": True},
    )
    def reopen(self, **audit):
        # The problem is back: neither the recovery nor the fix held.
        self.closed_at = None
        self.recovered_at = None
        self.fixed_at = None
        self.fix_status = ""
        self._respond(audit.get("by"))

    @transition(
        field=state,
        source=[s for s in IncidentState if s != IncidentState.CLOSED],
        target=IncidentState.CLOSED,
        permission=through_links_only,
        custom={"label": _("Close as a duplicate"), "hidden": True},
    )
    def close_as_duplicate(self, **audit):
        # Merged into another incident (incidents.merging): that one carries on.
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=[s for s in IncidentState if s != IncidentState.CLOSED],
        target=IncidentState.CLOSED,
        permission=through_links_only,
        custom={"label": _("Resolve with the parent"), "hidden": True},
    )
    def resolve_with_parent(self, **audit):
        # A child of a major incident, resolved together with it (incidents.merging).
        now = timezone.now()
        self.recovered_at = self.recovered_at or now
        self.closed_at = now


def response_due_for(priority: str, detected_at: datetime) -> datetime | None:
    """§8.1 対応目標時間: detection + the priority's response target on its clock."""
    from ..config_cache import current

    if not priority:
        return None
    target = current().response_targets.get(priority)
    if target is None:
        from ..defaults import RESPONSE_TARGETS

        minutes, clock = RESPONSE_TARGETS[priority][:2]
        target = ResponseTarget(priority=priority, minutes=minutes, clock=clock)
    return target.due_from(detected_at)


# --------------------------------------------------------------------------- timeline


class TimelineEntry(models.Model):
    """One entry on an incident's timeline: a status update, comment, state or priority change.

    §8.3.3 コミュニケーションを密に: status updates are first-class records, not audit noise.
    """

    COLORS = TIMELINE_COLORS

    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        db_index=False,  # timeline_incident_at leads with it
        related_name="timeline",
        verbose_name=_("incident"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    actor_label = models.CharField(_("by (system)"), max_length=150, blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=TimelineKind.choices, default=TimelineKind.COMMENT
    )
    text = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at"], name="timeline_incident_at")]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")

    def __str__(self) -> str:
        return f"{self.incident_id} {self.kind} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def who(self) -> str:
        from itsm.core.audit import actor_label

        if self.actor_id:
            return str(self.actor)
        return actor_label(self.actor_label) if self.actor_label else str(_("system"))

    @property
    def color(self) -> str:
        return TIMELINE_COLORS.get(self.kind, "light")

    def _state_label(self, key: str) -> str:
        code = (self.data or {}).get(key) or ""
        return str(IncidentState(code).label) if code in IncidentState.values else code

    @property
    def from_label(self) -> str:
        """A transition's source state in the reader's language (the row stores the code)."""
        return self._state_label("from")

    @property
    def to_label(self) -> str:
        return self._state_label("to")


# --------------------------------------------------------------------------- runbooks


class Runbook(models.Model):
    """A recovery procedure template (§8.3.3 復旧手順): ordered steps, managed in the admin."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runbooks",
        verbose_name=_("service"),
        help_text=_("Empty: applies to every service."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("runbook")
        verbose_name_plural = _("runbooks")

    def __str__(self) -> str:
        return self.name


class RunbookStep(models.Model):
    runbook = models.ForeignKey(
        Runbook, on_delete=models.CASCADE, related_name="steps", verbose_name=_("runbook")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    title = models.CharField(_("step"), max_length=200)
    instructions = models.TextField(_("instructions"), blank=True)

    class Meta:
        ordering = ["runbook", "order", "id"]
        verbose_name = _("runbook step")
        verbose_name_plural = _("runbook steps")

    def __str__(self) -> str:
        return f"{self.order}. {self.title}"


class IncidentRunbook(models.Model):
    """A runbook attached to an incident; its steps are copied into a checklist, so editing the
    template later never rewrites what was done on a past incident."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="runbooks", verbose_name=_("incident")
    )
    runbook = models.ForeignKey(
        Runbook, on_delete=models.PROTECT, related_name="+", verbose_name=_("runbook")
    )
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    attached_at = models.DateTimeField(_("attached at"), default=timezone.now)

    class Meta:
        ordering = ["attached_at", "id"]
        verbose_name = _("attached runbook")
        verbose_name_plural = _("attached runbooks")
        constraints = [
            models.UniqueConstraint(fields=["incident", "runbook"], name="incident_runbook_once")
        ]

    def __str__(self) -> str:
        return str(self.runbook)


class ChecklistItem(models.Model):
    incident_runbook = models.ForeignKey(
        IncidentRunbook, on_delete=models.CASCADE, related_name="items", verbose_name=_("runbook")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    title = models.CharField(_("step"), max_length=200)
    instructions = models.TextField(_("instructions"), blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )

    class Meta:
        ordering = ["incident_runbook", "order", "id"]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")

    def __str__(self) -> str:
        return self.title

    @property
    def done(self) -> bool:
        return self.done_at is not None


# --------------------------------------------------------------------------- postmortems


@guard(_("A summary is required."))
def has_summary(postmortem) -> bool:
    return bool(postmortem.summary.strip())


@guard(_("A postmortem needs a root cause and at least one why → because row."))
def has_root_cause_analysis(postmortem) -> bool:
    if postmortem.kind == PostmortemKind.REVIEW:
        return True  # the lighter P3/P4 review skips the 5-whys
    return bool(postmortem.root_cause.strip()) and postmortem.whys.exists()


@guard(_("Prevention measures are required."))
def has_prevention_measures(postmortem) -> bool:
    if postmortem.kind == PostmortemKind.REVIEW:
        return True
    return bool(postmortem.prevention_measures.strip())


class PostmortemQuerySet(models.QuerySet):
    def unpublished(self):
        return self.exclude(state=PostmortemState.PUBLISHED)

    def overdue(self, now=None):
        return self.unpublished().filter(due_at__lt=now or timezone.now())


class Postmortem(ConcurrentTransitionMixin, NumberedModel):
    """§8.3.4 ポストモーテム (P1/P2, mandatory) or the lighter review (P3/P4)."""

    NUMBER_PREFIX = "PM"
    STATE_COLORS = POSTMORTEM_STATE_COLORS
    State = PostmortemState

    state = FSMField(
        _("state"), default=PostmortemState.DRAFT, choices=PostmortemState.choices, protected=True
    )
    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="postmortem", verbose_name=_("incident")
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=PostmortemKind.choices, default=PostmortemKind.POSTMORTEM
    )
    mandatory = models.BooleanField(_("mandatory"), default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_postmortems",
        verbose_name=_("owner"),
    )
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    summary = models.TextField(_("incident summary"), blank=True)
    impact = models.TextField(_("impact and duration"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    prevention_measures = models.TextField(_("prevention measures"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    objects = PostmortemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("postmortem")
        verbose_name_plural = _("postmortems")

    def __str__(self) -> str:
        return f"{self.number} ({self.incident.number})" if self.number else ""

    def get_absolute_url(self) -> str:
        return reverse("incidents:postmortem", args=[self.number])

    @property
    def is_overdue(self) -> bool:
        return (
            self.state != PostmortemState.PUBLISHED
            and self.due_at is not None
            and self.due_at < timezone.now()
        )

    @transition(
        field=state,
        source=PostmortemState.DRAFT,
        target=PostmortemState.IN_REVIEW,
        conditions=[has_summary, has_root_cause_analysis, has_prevention_measures],
        permission=responders,
        custom={"label": _("Submit for review"), "style": "primary"},
    )
    def submit_for_review(self, **audit):
        pass

    @transition(
        field=state,
        source=PostmortemState.IN_REVIEW,
        target=PostmortemState.DRAFT,
        permission=at_least(Role.OPS_LEADER),
        custom={"label": _("Send back"), "style": "outline-secondary", "comment_required": True},
    )
    def send_back(self, **audit):
        pass

    @transition(
        field=state,
        source=PostmortemState.IN_REVIEW,
        target=PostmortemState.PUBLISHED,
        permission=at_least(Role.OPS_LEADER),
        custom={"label": _("Publish"), "style": "success"},
    )
    def publish(self, **audit):
        self.published_at = timezone.now()


class FiveWhy(models.Model):
    """One link of the なぜなぜ分析 chain: why did it happen → because …"""

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="whys", verbose_name=_("postmortem")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    why = models.TextField(_("why?"))
    because = models.TextField(_("because"), blank=True)

    class Meta:
        ordering = ["postmortem", "order", "id"]
        verbose_name = _("why")
        verbose_name_plural = _("5 whys")

    def __str__(self) -> str:
        return self.why[:60]


class ActionItem(models.Model):
    """An action item of a postmortem; it shows up in its owner's work queue."""

    postmortem = models.ForeignKey(
        Postmortem,
        on_delete=models.CASCADE,
        related_name="action_items",
        verbose_name=_("postmortem"),
    )
    title = models.CharField(_("title"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incident_action_items",
        verbose_name=_("owner"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True, db_index=True)
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["done", "due_date", "id"]
        indexes = [models.Index(fields=["owner", "done"], name="action_item_owner_done")]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")

    def __str__(self) -> str:
        return self.title

    @property
    def is_overdue(self) -> bool:
        return not self.done and self.due_date is not None and self.due_date < timezone.localdate()
