"""The shared foundation: accounts, teams, services, audit trail, API tokens, business calendar."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, URLValidator
from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Webhooks are posted over HTTP(S) only (URLValidator's default also admits ftp).
validate_web_url = URLValidator(schemes=["http", "https"])


def validate_time_zone(value: str) -> None:
    """A time zone name the zone database knows (``Asia/Tokyo``, ``America/New_York``)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone: %(zone)s"), params={"zone": value}) from exc


class User(AbstractUser):
    """A portal user. Roles are Django groups (see ``itsm.core.roles``)."""

    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Interface language; empty follows the browser."),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class Team(models.Model):
    """A team that escalations and assignments target (§8.4: L1–L5 each target a team/role)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation level"),
        null=True,
        blank=True,
        help_text=_("L1 operators … L5 executives; empty when the team is not on the ladder."),
    )
    email = models.EmailField(_("email"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, verbose_name=_("members")
    )

    class Meta:
        ordering = ["escalation_level", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A production service that incidents, changes, releases and backups refer to."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    owner_team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="services",
        verbose_name=_("owner team"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.name


class Sequence(models.Model):
    """Counters behind human-readable numbers (INC-000123); one row per prefix."""

    name = models.CharField(max_length=16, primary_key=True)
    value = models.BigIntegerField(default=0)

    @classmethod
    def next_value(cls, name: str) -> int:
        return cls.reserve(name, 1)

    @classmethod
    def reserve(cls, name: str, count: int) -> int:
        """Take ``count`` consecutive numbers of the series; returns the first of them."""
        table = connection.ops.quote_name(cls._meta.db_table)
        increment = f"UPDATE {table} SET value = value + %s WHERE name = %s RETURNING value"  # noqa: S608
        with connection.cursor() as cursor:
            # One statement, row-locked: no gaps, no doubles.
            cursor.execute(increment, [count, name])
            row = cursor.fetchone()
            if row is None:  # the series' first number
                cls.objects.get_or_create(name=name)
                cursor.execute(increment, [count, name])
                row = cursor.fetchone()
        return row[0] - count + 1


class NumberedModel(models.Model):
    """Abstract base giving a record a stable number such as ``INC-000123`` (DESIGN.md)."""

    NUMBER_PREFIX = ""

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self.number:
            self.number = f"{self.NUMBER_PREFIX}-{Sequence.next_value(self.NUMBER_PREFIX):06d}"
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.number


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("audit events are append-only")

    def delete(self):
        raise PermissionError("audit events are append-only")

    def for_object(self, obj: models.Model) -> AuditQuerySet:
        return self.filter(
            content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk)
        )


class AuditEvent(models.Model):
    """An append-only record of who did what to which record, and when.

    Written for every django-fsm transition (``post_transition``) and for edits that matter
    (priority overrides, approvals). Never updated or deleted.
    """

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(
        _("actor label"),
        max_length=150,
        blank=True,
        help_text=_("Who acted when no user did (the clock, an integration)."),
    )
    # Indexed by the (content_type, object_id, at) index below, which leads with it.
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, db_index=False)
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    object_repr = models.CharField(_("record"), max_length=200)
    action = models.CharField(_("action"), max_length=64)
    from_state = models.CharField(_("from"), max_length=64, blank=True)
    to_state = models.CharField(_("to"), max_length=64, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.object_repr} {self.action} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def who(self) -> str:
        from .audit import actor_label

        if self.actor_id:
            return str(self.actor)
        return actor_label(self.actor_label) if self.actor_label else str(_("system"))

    # Labels in the reader's language, computed at display time (issue 14 §5).
    @property
    def action_label(self) -> str:
        from .audit import action_label

        return action_label(self)

    @property
    def from_label(self) -> str:
        from .audit import state_label

        return state_label(self, self.from_state)

    @property
    def to_label(self) -> str:
        from .audit import state_label

        return state_label(self, self.to_state)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


class ApiToken(models.Model):
    """A revocable, scoped API token. Only a SHA-256 digest of the secret is stored.

    The token shown once to the user is ``itsm_<prefix>_<secret>``: the prefix finds the row,
    the digest of the whole token is compared in constant time.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Read and write")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.WRITE)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, *, name: str, scope: str = Scope.WRITE, expires_at=None):
        """Create a token; returns ``(token, raw)``. ``raw`` is shown once and never stored."""
        prefix = secrets.token_hex(6)
        raw = f"itsm_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=cls.hash(raw),
            scope=scope,
            expires_at=expires_at,
        )
        return token, raw

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying ``Idempotency-Key``, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    path = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key", "path"], name="idempotency_unique_key")
        ]


class WorkingHours(models.Model):
    """Business hours per weekday (default Mon–Fri 09:00–18:00); a missing weekday is closed."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices, unique=True)
    start = models.TimeField(_("opens"))
    end = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="working_hours_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class ClosedDay(models.Model):
    """A company closed day (default the year-end closure 12/29–1/3); empty year = every year."""

    name = models.CharField(_("name"), max_length=100)
    month = models.PositiveSmallIntegerField(_("month"))
    day = models.PositiveSmallIntegerField(_("day"))
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)

    class Meta:
        ordering = ["year", "month", "day"]
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        constraints = [
            models.UniqueConstraint(fields=["year", "month", "day"], name="closed_day_unique")
        ]

    def __str__(self) -> str:
        when = f"{self.year}-" if self.year else ""
        return f"{self.name} ({when}{self.month:02d}-{self.day:02d})"


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("In the portal")
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Chat webhook")
    CHAT = "chat", _("Personal chat")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    MERGED = "merged", _("Merged into another message")
    CANCELLED = "cancelled", _("Cancelled")


class Urgency(models.TextChoices):
    """How urgent a notification is: high for P1/P2, low for P3/P4 (per-person rules)."""

    HIGH = "high", _("High (P1/P2)")
    LOW = "low", _("Low (P3/P4)")


class ChatFormat(models.TextChoices):
    GENERIC = "generic", _("Generic JSON")
    SLACK = "slack", _("Slack-compatible incoming webhook")
    TEAMS = "teams", _("Microsoft Teams (Workflows webhook)")
    MATTERMOST = "mattermost", _("Mattermost incoming webhook")


DELIVERY_STATUS_COLORS = {
    DeliveryStatus.PENDING: "secondary",
    DeliveryStatus.SENT: "success",
    DeliveryStatus.FAILED: "danger",
    DeliveryStatus.MERGED: "info",
    DeliveryStatus.CANCELLED: "light",
}


class Notification(models.Model):
    """One message about one event, to one person (or one team's webhook), on one channel.

    ``key`` names the event (``INC-000123:c1:L2``); a row is unique per (key, recipient,
    channel) — or (key, team, channel) for webhooks — so the same event notifying the same
    person twice (a task retried, a message redelivered, two sweeps racing) hits the unique
    constraint instead of writing a second row. In-app rows are delivered by existing; email
    and webhook rows carry their delivery status, attempts and last error.
    """

    STATUS_COLORS = DELIVERY_STATUS_COLORS
    Channel = NotificationChannel
    Status = DeliveryStatus

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_index=False,  # notification_inbox leads with it
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_index=False,  # notification_team: webhook rows only
        related_name="notifications",
        verbose_name=_("team"),
        help_text=_("Set for webhook deliveries, which go to a team's chat channel."),
    )
    address = models.EmailField(
        _("email address"),
        blank=True,
        help_text=_("Set for emails to somebody without an account (a status page subscriber)."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        help_text=_("The language of an email to an address; people get their own setting."),
    )
    channel = models.CharField(
        _("channel"),
        max_length=10,
        choices=NotificationChannel.choices,
        default=NotificationChannel.IN_APP,
    )
    key = models.CharField(_("event"), max_length=200)  # notification_key
    # What to say is stored as a message code and its parameters and rendered in the reader's
    # language when shown or sent (``itsm.core.notifications.render``). ``title``/``body`` keep
    # a rendering in the addressee's language: the fallback for rows without a (known) code.
    message = models.CharField(_("message"), max_length=100, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    status = models.CharField(
        _("delivery status"),
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)
    urgency = models.CharField(_("urgency"), max_length=4, choices=Urgency.choices, blank=True)
    # Burst merging and quiet-hour digests (``itsm.core.notifications``): ``thread`` groups the
    # messages about one thing (an incident number); a row merged into another one points at
    # the row that carried it; a held row goes out in the digest sent at ``held_until``.
    thread = models.CharField(_("thread"), max_length=40, blank=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,  # notification_merged: merged rows only
        related_name="merged",
        verbose_name=_("sent with"),
    )
    held_until = models.DateTimeField(_("held until (quiet hours)"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "recipient", "channel"],
                condition=models.Q(recipient__isnull=False),
                name="notification_once_per_person",
            ),
            models.UniqueConstraint(
                fields=["key", "team", "channel"],
                condition=models.Q(team__isnull=False),
                name="notification_once_per_team",
            ),
            models.UniqueConstraint(
                fields=["key", "address", "channel"],
                condition=~models.Q(address=""),
                name="notification_once_per_address",
            ),
            models.CheckConstraint(
                condition=models.Q(recipient__isnull=False)
                | models.Q(team__isnull=False)
                | ~models.Q(address=""),
                name="notification_has_addressee",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "channel", "read_at"], name="notification_inbox"),
            # One index for the key's lookups (=, IN) and its prefixes (cancel_pending).
            models.Index(
                fields=["key"], name="notification_key", opclasses=["varchar_pattern_ops"]
            ),
            # The catch-up sweep reads pending deliveries by due time only.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="notification_pending_due",
            ),
            # /metrics counts failed deliveries by channel (docs/monitoring.md): few rows.
            models.Index(
                fields=["channel", "created_at"],
                condition=models.Q(status="failed"),
                name="notification_failed",
            ),
            models.Index(
                fields=["recipient", "channel", "thread", "created_at"],
                condition=~models.Q(thread=""),
                name="notification_thread",
            ),
            # Every row of an escalation burst is inserted with every index it is in (issue
            # 20): the team's and the carrier's lookups index only the rows that have one.
            models.Index(
                fields=["team"], condition=models.Q(team__isnull=False), name="notification_team"
            ),
            models.Index(
                fields=["merged_into"],
                condition=models.Q(merged_into__isnull=False),
                name="notification_merged",
            ),
        ]

    @property
    def status_color(self) -> str:
        return DELIVERY_STATUS_COLORS.get(self.status, "secondary")

    @property
    def addressee(self) -> str:
        return str(self.recipient) if self.recipient_id else str(self.team)

    def __str__(self) -> str:
        return self.display_title

    # In the language active now (the reader's page, or the recipient's at delivery).
    @property
    def display_title(self) -> str:
        from .notifications import render

        return render(self)[0]

    @property
    def display_body(self) -> str:
        from .notifications import render

        return render(self)[1]


class NotificationPreference(models.Model):
    """How one person wants to be told (a missing row means the defaults: email on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
        verbose_name=_("user"),
    )
    email = models.BooleanField(
        _("email"), default=True, help_text=_("Also send notifications by email.")
    )
    quiet_start = models.TimeField(
        _("quiet hours from"),
        null=True,
        blank=True,
        help_text=_("Low-urgency email and chat wait until the end and come as one digest."),
    )
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Tokyo", validators=[validate_time_zone]
    )
    chat_webhook_url = models.URLField(
        _("personal chat webhook"),
        max_length=500,
        blank=True,
        validators=[validate_web_url],
        help_text=_("An incoming webhook that posts to you (Slack, Teams Workflows, Mattermost)."),
    )
    chat_format = models.CharField(
        _("chat format"), max_length=12, choices=ChatFormat.choices, default=ChatFormat.SLACK
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)


class TeamWebhook(models.Model):
    """A team's outgoing chat webhook: escalations for the team are posted here."""

    Format = ChatFormat

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, related_name="webhook", verbose_name=_("team")
    )
    url = models.URLField(_("URL"), max_length=500)
    format = models.CharField(
        _("format"), max_length=12, choices=ChatFormat.choices, default=ChatFormat.GENERIC
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["team", "id"]
        verbose_name = _("team webhook")
        verbose_name_plural = _("team webhooks")

    def __str__(self) -> str:
        return f"{self.team}: {self.get_format_display()}"


class NotificationRule(models.Model):
    """One person's rule: notifications of ``urgency`` reach them on ``channel`` after
    ``delay_minutes``. A person without rules for an urgency gets ``DEFAULT_RULES``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_rules",
        verbose_name=_("user"),
    )
    urgency = models.CharField(_("urgency"), max_length=4, choices=Urgency.choices)
    channel = models.CharField(
        _("channel"),
        max_length=10,
        choices=[
            (NotificationChannel.IN_APP, NotificationChannel.IN_APP.label),
            (NotificationChannel.EMAIL, NotificationChannel.EMAIL.label),
            (NotificationChannel.CHAT, NotificationChannel.CHAT.label),
        ],
    )
    delay_minutes = models.PositiveSmallIntegerField(
        _("after (minutes)"), default=0, validators=[MaxValueValidator(24 * 60)]
    )

    class Meta:
        ordering = ["user", "urgency", "delay_minutes", "channel"]
        verbose_name = _("notification rule")
        verbose_name_plural = _("notification rules")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "urgency", "channel"], name="notification_rule_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.urgency} → {self.channel} +{self.delay_minutes}m"


# Without rules of their own: in the portal at once (always), email at once; personal chat
# (when set) 2 minutes after a high-urgency notification.
DEFAULT_RULES = {
    Urgency.HIGH: [(NotificationChannel.EMAIL, 0), (NotificationChannel.CHAT, 2)],
    Urgency.LOW: [(NotificationChannel.EMAIL, 0)],
}
