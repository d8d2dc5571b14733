"""On-call schedules (DESIGN.md § On-call and paging).

A ``Schedule`` belongs to a team and answers for one escalation level (L1 primary, L2 …). It has
``Layer`` rows, each a rotation of people (``LayerMember`` in order) with a hand-off time, a
length and optional restrictions on the business calendar. ``Override`` rows let a person cover
a time range. Final on-call at an instant = the highest-priority layer that has someone, then
overrides on top (``oncall.rotation``). Times are computed in the schedule's time zone.
"""

from __future__ import annotations

import hmac
import secrets
import zoneinfo

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from itsm.core.models import ApiToken, Team, validate_time_zone

DEFAULT_TIME_ZONE = "Asia/Tokyo"


class Rotation(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    CUSTOM = "custom", _("Every N days")
    SPLIT = "split", _("Business hours / off-hours split")


class Restriction(models.TextChoices):
    NONE = "", _("Always")
    BUSINESS_HOURS = "business_hours", _("Only during business hours")
    OFF_HOURS = "off_hours", _("Only outside business hours")
    WEEKENDS_HOLIDAYS = "weekends_holidays", _("Only weekends and holidays")


class Schedule(models.Model):
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="schedules", verbose_name=_("team")
    )
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    level = models.PositiveSmallIntegerField(
        _("escalation level"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(9)],
        help_text=_("The escalation level this schedule answers for (1: primary, 2: secondary…)."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
    )
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["team__name", "level", "name"]
        verbose_name = _("on-call schedule")
        verbose_name_plural = _("on-call schedules")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("oncall:schedule", args=[self.slug])

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Layer(models.Model):
    schedule = models.ForeignKey(
        Schedule, on_delete=models.CASCADE, related_name="layers", verbose_name=_("schedule")
    )
    name = models.CharField(_("name"), max_length=100)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=1, help_text=_("Higher layers win where they have someone.")
    )
    rotation = models.CharField(
        _("rotation"), max_length=10, choices=Rotation.choices, default=Rotation.WEEKLY
    )
    length_days = models.PositiveSmallIntegerField(
        _("length (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("For 'every N days': the length of one shift."),
    )
    handoff_time = models.TimeField(_("hand-off time"), default="09:00")
    start_date = models.DateField(_("start date"))
    restriction = models.CharField(
        _("restriction"), max_length=20, choices=Restriction.choices, blank=True, default=""
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="LayerMember",
        related_name="oncall_layers",
        verbose_name=_("people"),
    )

    class Meta:
        ordering = ["schedule", "-priority", "id"]
        verbose_name = _("on-call layer")
        verbose_name_plural = _("on-call layers")

    def __str__(self) -> str:
        return f"{self.schedule}: {self.name}"


class LayerMember(models.Model):
    layer = models.ForeignKey(
        Layer, on_delete=models.CASCADE, related_name="rotation_members", verbose_name=_("layer")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("person"),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["layer", "position", "id"]
        verbose_name = _("rotation member")
        verbose_name_plural = _("rotation members")

    def __str__(self) -> str:
        return f"{self.layer}: {self.position} {self.user}"


class Override(models.Model):
    """``user`` is on call for the schedule from ``start`` to ``end`` (covering for ``replaces``,
    or for whoever the layers put there when empty)."""

    schedule = models.ForeignKey(
        Schedule, on_delete=models.CASCADE, related_name="overrides", verbose_name=_("schedule")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="oncall_overrides",
        verbose_name=_("person on call"),
    )
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("covering for"),
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["schedule", "start"]
        verbose_name = _("on-call override")
        verbose_name_plural = _("on-call overrides")
        indexes = [models.Index(fields=["schedule", "end", "start"], name="oncall_override_window")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="oncall_override_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.user} {self.start:%Y-%m-%d %H:%M}"


class FeedKey(models.Model):
    """The revocable key of a person's iCalendar feed of their shifts. The key shown once is
    ``<prefix>.<secret>``: the prefix finds the row, the SHA-256 digest of the whole key is
    compared in constant time; a new key revokes the previous ones."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="oncall_feed_keys",
        verbose_name=_("person"),
    )
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("shift feed key")
        verbose_name_plural = _("shift feed keys")

    def __str__(self) -> str:
        return f"{self.user} ({self.prefix}…)"

    hash = staticmethod(ApiToken.hash)  # the same digest as API tokens

    @classmethod
    def generate(cls, user) -> tuple[str, FeedKey]:
        prefix = secrets.token_hex(6)
        raw = f"{prefix}.{secrets.token_urlsafe(32)}"
        return raw, cls(user=user, prefix=prefix, digest=cls.hash(raw))

    @classmethod
    def lookup(cls, raw: str) -> FeedKey | None:
        prefix = (raw or "").split(".", 1)[0][:12]
        row = (
            cls.objects.select_related("user")
            .filter(prefix=prefix, revoked_at__isnull=True)
            .first()
        )
        if row is None or not hmac.compare_digest(row.digest, cls.hash(raw)):
            return None
        return row
