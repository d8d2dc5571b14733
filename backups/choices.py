"""Choices of the backup & recovery records, with the seed's Japanese labels and badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TargetKind(models.TextChoices):
    """§11.2 バックアップ対象; ``portal_database`` is the portal's own database (built-in executor)."""

    DATABASE = "database", _("Database")
    FILE_STORAGE = "file_storage", _("File storage")
    SYSTEM_CONFIG = "system_config", _("System configuration")
    LOGS = "logs", _("Log files")
    PORTAL_DATABASE = "portal_database", _("Portal database")


class Method(models.TextChoices):
    """§11.2 バックアップ方式."""

    FULL = "full", _("Full")
    DIFFERENTIAL = "differential", _("Differential")
    INCREMENTAL = "incremental", _("Incremental")
    FULL_DIFFERENTIAL = "full_differential", _("Full + differential")


class JobKind(models.TextChoices):
    """What one run produced."""

    FULL = "full", _("Full")
    DIFFERENTIAL = "differential", _("Differential")
    INCREMENTAL = "incremental", _("Incremental")


class Trigger(models.TextChoices):
    """§11.2 頻度: on a cron schedule, or whenever the target changes (システム設定: 変更時)."""

    SCHEDULE = "schedule", _("On schedule")
    ON_CHANGE = "on_change", _("On change")


class RetentionUnit(models.TextChoices):
    """§11.2 世代管理: a number of generations (30世代) or of days (90日)."""

    GENERATIONS = "generations", _("generations")
    DAYS = "days", _("days")


class MediaType(models.TextChoices):
    DISK = "disk", _("Disk")
    NAS = "nas", _("NAS")
    TAPE = "tape", _("Tape")
    OBJECT_STORAGE = "object_storage", _("Object storage")
    OPTICAL = "optical", _("Optical disc")


class StandbyType(models.TextChoices):
    """§11.4 DR 構成."""

    HOT = "hot", _("Hot standby")
    WARM = "warm", _("Warm standby")
    COLD = "cold", _("Cold standby")


class DrillResult(models.TextChoices):
    PASSED = "passed", _("Passed")
    PARTIAL = "partial", _("Partially passed")
    FAILED = "failed", _("Failed")


DRILL_RESULT_COLORS = {"passed": "success", "partial": "warning", "failed": "danger"}


class IncidentPriority(models.TextChoices):
    """Priority of the incident an RPO breach opens (§8 P1–P4; default P2)."""

    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"
    P4 = "P4", "P4"


class RpoStatus(models.TextChoices):
    OK = "ok", _("Within RPO")
    AT_RISK = "at_risk", _("At risk")
    BREACHED = "breached", _("RPO breached")
    # monitored, but no good backup ever: nothing to restore (never "within RPO")
    NO_BACKUP = "no_backup", _("No backup yet")
    NOT_MONITORED = "not_monitored", _("Not monitored")


# The statuses that count as "within RPO" on the dashboard (docs/metrics.md § Backups).
RPO_WITHIN = ("ok", "at_risk")

RPO_STATUS_COLORS = {
    "ok": "success",
    "at_risk": "warning",
    "breached": "danger",
    "no_backup": "danger",
    "not_monitored": "secondary",
}


class BoardStatus(models.TextChoices):
    """RPO/RTO board (§11.3): one colour per target from its RPO and its last measured restore."""

    ON_TARGET = "on_target", _("On target")
    ATTENTION = "attention", _("Needs attention")
    OFF_TARGET = "off_target", _("Off target")
    NOT_MONITORED = "not_monitored", _("Not monitored")


BOARD_STATUS_COLORS = {
    "on_target": "success",
    "attention": "warning",
    "off_target": "danger",
    "not_monitored": "secondary",
}
