"""Communication during an incident (seed §8.3.3 コミュニケーションを密に; DESIGN.md § Communication
during an incident): roles, stakeholder updates on a cadence, subscribers, the status page.

Configuration the issue leaves open is data with defaults (``comms.defaults``): the cadence and
implied service status per priority (``PriorityComms``), update templates per service, which
services appear on the public status page (``StatusPageService``).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.choices import Priority
from incidents.models import Incident
from itsm.core.models import Service, Team

from .choices import (
    SERVICE_STATUS_COLORS,
    UPDATE_STATUS_COLORS,
    Audience,
    ServiceStatus,
    UpdateStatus,
)
from .defaults import PRIORITY_COMMS


class PriorityComms(models.Model):
    """Per priority: how often stakeholders hear from an incident, when a late update becomes an
    escalation reason (§8.4 business impact), and what an open incident does to its service's
    status."""

    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, unique=True)
    update_every_minutes = models.PositiveIntegerField(
        _("update every (minutes)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5)],
        help_text=_("Empty: no cadence; updates are posted when there is news."),
    )
    overdue_after_minutes = models.PositiveIntegerField(
        _("overdue after (minutes past due)"),
        default=10,
        help_text=_("An update this late escalates the incident (reason: update overdue)."),
    )
    service_status = models.CharField(
        _("service status while open"),
        max_length=20,
        choices=ServiceStatus.choices,
        default=ServiceStatus.DEGRADED,
    )

    class Meta:
        ordering = ["priority"]
        verbose_name = _("communication rule")
        verbose_name_plural = _("communication rules")

    def __str__(self) -> str:
        every = self.update_every_minutes
        return f"{self.priority}: {every or '—'} min, {self.get_service_status_display()}"

    @classmethod
    def table(cls) -> dict[str, PriorityComms]:
        """Every priority's rule: the rows, the defaults for priorities without one."""
        rows = {row.priority: row for row in cls.objects.all()}
        for priority, (every, grace, status) in PRIORITY_COMMS.items():
            rows.setdefault(
                priority,
                cls(
                    priority=priority,
                    update_every_minutes=every,
                    overdue_after_minutes=grace,
                    service_status=status,
                ),
            )
        return rows


class IncidentComms(models.Model):
    """An incident's communication: who commands it, who talks to stakeholders, who responds,
    what the business sees (public title, service status set by the commander), and where the
    update cadence stands. Created the first time any of it is needed."""

    incident = models.OneToOneField(
        Incident,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="comms",
        verbose_name=_("incident"),
    )
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commanded_incidents",
        verbose_name=_("incident commander"),
    )
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("communications lead"),
    )
    responders = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="responding_incidents",
        verbose_name=_("responders"),
    )
    public_title = models.CharField(
        _("public title"),
        max_length=200,
        blank=True,
        help_text=_("What the status page calls the incident. Empty: a generic title."),
    )
    service_status = models.CharField(
        _("service status (set by the commander)"),
        max_length=20,
        choices=ServiceStatus.choices,
        blank=True,
        help_text=_("Empty: derived from the priority and state."),
    )
    last_update_at = models.DateTimeField(_("last update at"), null=True, blank=True)
    last_update_status = models.CharField(
        _("last update status"), max_length=20, choices=UpdateStatus.choices, blank=True
    )
    # The due instants already acted on: the commander was reminded of, escalated as overdue.
    reminded_for = models.DateTimeField(null=True, blank=True, editable=False)
    overdue_for = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("incident communication")
        verbose_name_plural = _("incident communication")

    def __str__(self) -> str:
        return str(self.incident)

    @property
    def service_status_color(self) -> str:
        return SERVICE_STATUS_COLORS.get(self.service_status, "secondary")


class StakeholderUpdate(models.Model):
    """A status update written for the business, delivered to the incident's subscribers.
    Public updates also appear on the status page; internal ones never do."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        related_name="stakeholder_updates",
        verbose_name=_("incident"),
    )
    status = models.CharField(_("status"), max_length=20, choices=UpdateStatus.choices)
    audience = models.CharField(
        _("audience"), max_length=10, choices=Audience.choices, default=Audience.INTERNAL
    )
    message_ja = models.TextField(_("message (Japanese)"), blank=True)
    message_en = models.TextField(_("message (English)"), blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("posted by"),
    )
    posted_at = models.DateTimeField(_("posted at"), default=timezone.now)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        verbose_name = _("stakeholder update")
        verbose_name_plural = _("stakeholder updates")
        indexes = [
            models.Index(fields=["incident", "posted_at"], name="update_incident_posted"),
            models.Index(
                fields=["posted_at"],
                condition=Q(audience="public"),
                name="update_public_posted",
            ),
            models.Index(
                fields=["posted_at"],
                condition=Q(delivered_at__isnull=True),
                name="update_undelivered",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(message_ja="") | ~Q(message_en=""), name="update_has_message"
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.status} @ {self.posted_at:%Y-%m-%d %H:%M}"

    @property
    def color(self) -> str:
        return UPDATE_STATUS_COLORS.get(self.status, "secondary")

    def message(self, language: str = "") -> str:
        """The message in ``language`` (ja/en), else the other one."""
        language = (language or settings.LANGUAGE_CODE)[:2]
        first, second = (
            (self.message_ja, self.message_en)
            if language == "ja"
            else (self.message_en, self.message_ja)
        )
        return first or second


class UpdateTemplate(models.Model):
    """Prefilled text for an update (per service, or for every service). ``{service}``,
    ``{mitigations}``, ``{next_update}`` and ``{started}`` are filled in from the incident."""

    name = models.CharField(_("name"), max_length=100)
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="update_templates",
        verbose_name=_("service"),
        help_text=_("Empty: offered for every service."),
    )
    status = models.CharField(_("status"), max_length=20, choices=UpdateStatus.choices)
    message_ja = models.TextField(_("message (Japanese)"), blank=True)
    message_en = models.TextField(_("message (English)"), blank=True)

    class Meta:
        ordering = ["service__name", "status", "name"]
        verbose_name = _("update template")
        verbose_name_plural = _("update templates")

    def __str__(self) -> str:
        return f"{self.service or '*'}: {self.name}"

    def clean(self) -> None:
        if not (self.message_ja.strip() or self.message_en.strip()):
            raise ValidationError(_("Write the message in Japanese, English or both."))


class StatusPageService(models.Model):
    """A service's entry on the status page; ``public`` puts it on the page without login."""

    service = models.OneToOneField(
        Service,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="status_page",
        verbose_name=_("service"),
    )
    public = models.BooleanField(_("on the public status page"), default=False)
    public_name = models.CharField(
        _("public name"),
        max_length=100,
        blank=True,
        help_text=_("The name the public page shows. Empty: the service's name."),
    )
    public_description = models.CharField(_("public description"), max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "service__name"]
        verbose_name = _("status page service")
        verbose_name_plural = _("status page services")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.public_name or self.service.name


class SubscriptionQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(confirmed_at__isnull=False)


class Subscription(models.Model):
    """Who hears about an incident's updates: a person, a team (its members and chat webhook) or
    an email address; of one incident, of a service (its incidents), or of every public service
    (both empty, public subscribers only). Public subscribers (``public``) signed up on the
    public status page, receive public updates only and count once they confirmed (double
    opt-in); ``nonce`` changes on confirmation, so a confirmation link works once."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("incident"),
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("service"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("person"),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("team"),
    )
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    public = models.BooleanField(_("public subscriber"), default=False)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    nonce = models.CharField(max_length=32, default="", editable=False)
    # "incident:7" / "service:3" / "all" and "user:4" / "team:2" / "email:a@b.example": one
    # subscription per (scope, subscriber) on every database (NULLs are distinct in a UNIQUE).
    scope_key = models.CharField(max_length=40, editable=False)
    subscriber_key = models.CharField(max_length=270, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, team__isnull=True, email="")
                    | Q(user__isnull=True, team__isnull=False, email="")
                    | (Q(user__isnull=True, team__isnull=True) & ~Q(email=""))
                ),
                name="subscription_one_subscriber",
            ),
            models.CheckConstraint(
                condition=Q(incident__isnull=True) | Q(service__isnull=True),
                name="subscription_one_scope",
            ),
            models.UniqueConstraint(
                fields=["scope_key", "subscriber_key"], name="subscription_once"
            ),
        ]
        indexes = [
            models.Index(fields=["service", "public"], name="subscription_service"),
        ]

    def __str__(self) -> str:
        return self.subscriber

    def save(self, *args, **kwargs):
        if not self.nonce:
            self.nonce = secrets.token_hex(16)
        self.scope_key, self.subscriber_key = self.keys()
        super().save(*args, **kwargs)

    def keys(self) -> tuple[str, str]:
        if self.incident_id:
            scope = f"incident:{self.incident_id}"
        else:
            scope = f"service:{self.service_id}" if self.service_id else "all"
        if self.user_id:
            return scope, f"user:{self.user_id}"
        if self.team_id:
            return scope, f"team:{self.team_id}"
        return scope, f"email:{self.email.strip().lower()}"

    @property
    def subscriber(self) -> str:
        return str(self.user or self.team or self.email)

    @property
    def scope(self) -> str:
        if self.incident_id:
            return str(self.incident.number)
        return str(self.service) if self.service_id else str(_("All public services"))
