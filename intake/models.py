"""Models of the monitoring intake (DESIGN.md § Monitoring intake): integrations, their mapping rules, alert
groups, alerts and the delivery log.

Monitoring systems deliver at least once (Alertmanager in HA sends duplicates on purpose; every
sender retries on 5xx), so the invariant "one open incident per (integration, group key)" is held
by the database: a partial unique constraint on the open ``AlertGroup`` rows, not a read-then-write.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.choices import BusinessImpact, ImpactScope, Priority, Urgency
from incidents.models import Incident
from itsm.core.models import Service, Team


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", _("Prometheus Alertmanager / Grafana webhook")
    EVENTS_V2 = "events_v2", _("PagerDuty Events API v2 compatible")
    GENERIC = "generic", _("Generic (both formats)")


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("Firing")
    RESOLVED = "resolved", _("Resolved")


ALERT_STATUS_COLORS = {AlertStatus.FIRING: "danger", AlertStatus.RESOLVED: "success"}


class DeliveryResult(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSED = "processed", _("Processed")
    DROPPED = "dropped", _("Accepted, nothing to act on")
    REJECTED = "rejected", _("Rejected (invalid)")
    FAILED = "failed", _("Failed after retries")


DELIVERY_RESULT_COLORS = {
    DeliveryResult.PENDING: "warning",
    DeliveryResult.PROCESSED: "success",
    DeliveryResult.DROPPED: "secondary",
    DeliveryResult.REJECTED: "danger",
    DeliveryResult.FAILED: "danger",
}

SECRET_PREFIX_LENGTH = 8
# The endpoints look the integration up by its secret's prefix on every delivery; each web
# process keeps the row this briefly, so a revocation or edit takes effect within these seconds
# everywhere (at once in the process that saved it). In memory rather than in the shared cache:
# a Redis round trip per delivery cost as much as the rest of the lookup and the check together.
AUTH_CACHE_SECONDS = 5
_auth_cache: dict[str, tuple[Integration, float]] = {}  # secret prefix → (row, time read)

# The default storm rule: storm mode opens for more than 10 new alert groups of one integration
# within 5 minutes (a real storm); four unrelated groups in a minute stay four incidents.
STORM_THRESHOLD = 10
STORM_WINDOW_MINUTES = 5


class Integration(models.Model):
    """One monitoring system pointed at the portal, with its own secret.

    The secret is the Bearer token for Alertmanager/Grafana and the ``routing_key`` for Events v2.
    It is 32 hex characters like a PagerDuty integration key; only its SHA-256 digest is stored,
    the first characters (the prefix) find the row, the digest is compared in constant time.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=IntegrationKind.choices,
        default=IntegrationKind.ALERTMANAGER,
    )
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    secret_prefix = models.CharField(_("secret prefix"), max_length=12, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    secret_issued_at = models.DateTimeField(_("secret issued at"), null=True, editable=False)
    secret_revoked_at = models.DateTimeField(_("secret revoked at"), null=True, blank=True)
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default service"),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default team"),
    )
    default_priority = models.CharField(
        _("default priority"),
        max_length=2,
        choices=Priority.choices,
        default=Priority.P3,
        help_text=_("Used when no mapping rule gives a priority."),
    )
    auto_recover = models.BooleanField(
        _("recover on resolve"),
        default=True,
        help_text=_(
            "When every alert of an incident is resolved, mark the incident recovered. "
            "It is never closed without a person."
        ),
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        _("rate limit (requests per minute)"),
        default=600,
        help_text=_("Further requests get 429 with Retry-After. 0: no limit."),
    )
    storm_threshold = models.PositiveSmallIntegerField(
        _("storm threshold (new alert groups)"),
        default=STORM_THRESHOLD,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Storm mode starts when more than this many new alert groups arrive within the storm "
            "window: further new groups then join one storm incident instead of opening more."
        ),
    )
    storm_window_minutes = models.PositiveSmallIntegerField(
        _("storm window (minutes)"), default=STORM_WINDOW_MINUTES, validators=[MinValueValidator(1)]
    )
    delivery_retention_days = models.PositiveSmallIntegerField(
        _("keep deliveries (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_delivery_at = models.DateTimeField(_("last delivery"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        db_table = "incidents_integration"  # moved from incidents: the table and its rows stay
        verbose_name = _("monitoring integration")
        verbose_name_plural = _("monitoring integrations")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("intake:integration", args=[self.pk])

    # ---- the secret

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    def set_new_secret(self) -> str:
        """Give the integration a fresh secret; returns it (shown once, never stored)."""
        raw = secrets.token_hex(16)
        self.secret_prefix = raw[:SECRET_PREFIX_LENGTH]
        self.secret_digest = self.hash(raw)
        self.secret_issued_at = timezone.now()
        self.secret_revoked_at = None
        return raw

    def save(self, *args, **kwargs):
        old_prefix = None
        if self.pk:
            old_prefix = (
                type(self)
                .objects.filter(pk=self.pk)
                .values_list("secret_prefix", flat=True)
                .first()
            )
        super().save(*args, **kwargs)
        for prefix in (old_prefix, self.secret_prefix):
            _auth_cache.pop(prefix, None)

    def delete(self, *args, **kwargs):
        self.forget()
        return super().delete(*args, **kwargs)

    def forget(self) -> None:
        """Drop this process's cached copy (``authenticate``)."""
        _auth_cache.pop(self.secret_prefix, None)

    @classmethod
    def authenticate(cls, raw: str, *, kinds) -> Integration | None:
        """The active integration whose secret is ``raw`` and whose kind is in ``kinds``.

        The row found by the secret's prefix is kept in this process for ``AUTH_CACHE_SECONDS``
        (callers must not change it); the digest is compared (in constant time) and the
        revocation checked on every call."""
        if not isinstance(raw, str) or len(raw) < SECRET_PREFIX_LENGTH + 8 or len(raw) > 200:
            return None
        if "\x00" in raw:  # never in a secret; PostgreSQL refuses NUL in a query parameter
            return None
        prefix = raw[:SECRET_PREFIX_LENGTH]
        entry = _auth_cache.get(prefix)
        if entry is not None and 0 <= time.time() - entry[1] <= AUTH_CACHE_SECONDS:
            found = entry[0]
        else:
            found = cls.objects.filter(secret_prefix=prefix).first()
            if found is None:
                _auth_cache.pop(prefix, None)
            else:
                _auth_cache[prefix] = (found, time.time())
        if found is None or not hmac.compare_digest(found.secret_digest, cls.hash(raw)):
            return None
        if not found.is_active or found.secret_revoked_at is not None or found.kind not in kinds:
            return None
        return found

    @property
    def accepts_alertmanager(self) -> bool:
        return self.kind in (IntegrationKind.ALERTMANAGER, IntegrationKind.GENERIC)

    @property
    def accepts_events(self) -> bool:
        return self.kind in (IntegrationKind.EVENTS_V2, IntegrationKind.GENERIC)


class MappingRule(models.Model):
    """``label = value`` → priority / triage inputs / service, evaluated in order.

    Each field is taken from the first matching rule that sets it, so a broad rule placed last
    (``severity = warning → P3``) fills what the narrow ones above it leave open.
    """

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="rules", verbose_name=_("integration")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    label = models.CharField(
        _("label"), max_length=100, help_text=_("Alert label, e.g. severity, team, service.")
    )
    value = models.CharField(
        _("value"), max_length=200, help_text=_("Exact value; * matches any value of the label.")
    )
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, blank=True)
    impact_scope = models.CharField(
        _("impact scope"), max_length=20, choices=ImpactScope.choices, blank=True
    )
    business_impact = models.CharField(
        _("business impact"), max_length=20, choices=BusinessImpact.choices, blank=True
    )
    urgency = models.CharField(_("urgency"), max_length=20, choices=Urgency.choices, blank=True)
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )

    class Meta:
        ordering = ["integration", "order", "id"]
        db_table = "incidents_mappingrule"  # moved from incidents: the table and its rows stay
        verbose_name = _("mapping rule")
        verbose_name_plural = _("mapping rules")

    def __str__(self) -> str:
        out = [self.priority, self.impact_scope, self.business_impact, self.urgency]
        target = ", ".join(x for x in out if x) or (str(self.service) if self.service_id else "—")
        return f"{self.label}={self.value} → {target}"

    def matches(self, labels: dict) -> bool:
        if self.label not in labels:
            return False
        return self.value == "*" or str(labels[self.label]) == self.value


class AlertGroup(models.Model):
    """One episode of an alert group (Alertmanager ``groupKey``, Events v2 ``dedup_key``) and the
    incident it feeds. While ``is_open``, every delivery for the key joins it; a storm group
    (``is_storm``, empty key) collects the new groups of an integration during an alert storm."""

    integration = models.ForeignKey(
        Integration,
        on_delete=models.CASCADE,
        related_name="groups",
        verbose_name=_("integration"),
        db_index=False,  # led by alert_group_latest
    )
    key = models.CharField(_("group key"), max_length=255)
    is_storm = models.BooleanField(_("storm group"), default=False)
    is_open = models.BooleanField(_("open"), default=True)
    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        null=True,
        related_name="alert_groups",
        verbose_name=_("incident"),
    )
    # The incident opened for this group itself (False: it joined the storm incident).
    opened_incident = models.BooleanField(default=False)
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("previous episode"),
    )
    labels = models.JSONField(_("common labels"), default=dict, blank=True)
    # What the integration's mapping rules gave the group when it opened: shown on a storm
    # incident's member list, and the floor its priority rises to as groups join it.
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, blank=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        db_table = "incidents_alertgroup"  # moved from incidents: the table and its rows stay
        verbose_name = _("alert group")
        verbose_name_plural = _("alert groups")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "key", "is_storm"],
                condition=Q(is_open=True),
                name="alert_group_one_open_per_key",
            )
        ]
        indexes = [
            # The storm rule counts every new group of the integration in the window.
            models.Index(
                fields=["integration", "opened_at"],
                condition=Q(is_storm=False),
                name="alert_group_storm_window",
            ),
            # The newest episode of a key (open, or the previous one to link to).
            models.Index(fields=["integration", "key", "-id"], name="alert_group_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.integration}: {self.key or _('alert storm')}"

    @property
    def name(self) -> str:
        """What a person calls the group: its alert name when the alerts share one, else the key."""
        if self.is_storm:
            return str(_("alert storm"))
        return str(self.labels.get("alertname") or self.key)


class Alert(models.Model):
    """One alert (Alertmanager ``fingerprint``, or one Events v2 ``dedup_key``) within a group."""

    STATUS_COLORS = ALERT_STATUS_COLORS

    # Both led by a composite index below (alert_once_per_group, alert_incident_status): a storm
    # inserts thousands of alerts, and every index costs each of them.
    group = models.ForeignKey(
        AlertGroup,
        on_delete=models.CASCADE,
        related_name="alerts",
        verbose_name=_("group"),
        db_index=False,
    )
    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        null=True,
        related_name="alerts",
        verbose_name=_("incident"),
        db_index=False,
    )
    fingerprint = models.CharField(_("fingerprint"), max_length=255)
    status = models.CharField(
        _("status"), max_length=10, choices=AlertStatus.choices, default=AlertStatus.FIRING
    )
    name = models.CharField(_("alert"), max_length=255, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    generator_url = models.URLField(_("source link"), max_length=2000, blank=True)
    repeat_count = models.PositiveIntegerField(_("repeats"), default=0)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ["group", "first_seen_at", "id"]
        db_table = "incidents_alert"  # moved from incidents: the table and its rows stay
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(fields=["group", "fingerprint"], name="alert_once_per_group")
        ]
        indexes = [models.Index(fields=["incident", "status"], name="alert_incident_status")]

    def __str__(self) -> str:
        return self.name or self.fingerprint

    @property
    def status_color(self) -> str:
        return ALERT_STATUS_COLORS.get(self.status, "secondary")


class Delivery(models.Model):
    """One accepted (or rejected) request of an integration, kept raw for the delivery log.

    A delivery is stored before it is processed; a pending one (processing raised) is retried
    from the database by the ``incidents.process_pending_deliveries`` sweep, so an accepted
    delivery is never lost, broker or not.
    """

    COLORS = DELIVERY_RESULT_COLORS

    integration = models.ForeignKey(
        Integration,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("integration"),
        db_index=False,  # led by the delivery_integration index
    )
    format = models.CharField(_("format"), max_length=20, choices=IntegrationKind.choices)
    body = models.TextField(_("raw body"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    result = models.CharField(
        _("result"), max_length=10, choices=DeliveryResult.choices, default=DeliveryResult.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    alert_count = models.PositiveIntegerField(_("alerts"), default=0)
    incidents = models.JSONField(_("incidents"), default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        db_table = "incidents_delivery"  # moved from incidents: the table and its rows stay
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            # What the processor reads (pending, per integration, in id order) and the sweep
            # scans; small, as pending rows are few.
            models.Index(
                fields=["integration", "id"],
                condition=Q(result="pending"),
                name="delivery_pending",
            ),
            models.Index(fields=["integration", "-received_at"], name="delivery_integration"),
        ]

    def __str__(self) -> str:
        return f"{self.integration} @ {self.received_at:%Y-%m-%d %H:%M:%S}"

    @property
    def color(self) -> str:
        return DELIVERY_RESULT_COLORS.get(self.result, "secondary")
