"""Choices of incident communication (seed §8.3.3 コミュニケーションを密に) with their colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class UpdateStatus(models.TextChoices):
    """Where the incident stands, in the words stakeholders understand."""

    INVESTIGATING = "investigating", pgettext_lazy("update status", "Investigating")
    IDENTIFIED = "identified", pgettext_lazy("update status", "Identified")
    MONITORING = "monitoring", pgettext_lazy("update status", "Monitoring")
    RESOLVED = "resolved", pgettext_lazy("update status", "Resolved")


UPDATE_STATUS_COLORS = {
    UpdateStatus.INVESTIGATING: "danger",
    UpdateStatus.IDENTIFIED: "warning",
    UpdateStatus.MONITORING: "info",
    UpdateStatus.RESOLVED: "success",
}


class Audience(models.TextChoices):
    INTERNAL = "internal", pgettext_lazy("audience", "Internal")
    PUBLIC = "public", pgettext_lazy("audience", "Public")


class ServiceStatus(models.TextChoices):
    """A service's state on the status page, best first (the order is the severity)."""

    OPERATIONAL = "operational", _("Operational")
    DEGRADED = "degraded", _("Degraded performance")
    PARTIAL_OUTAGE = "partial_outage", _("Partial outage")
    MAJOR_OUTAGE = "major_outage", _("Major outage")


SERVICE_STATUS_ORDER = [s.value for s in ServiceStatus]

SERVICE_STATUS_COLORS = {
    ServiceStatus.OPERATIONAL: "success",
    ServiceStatus.DEGRADED: "warning",
    ServiceStatus.PARTIAL_OUTAGE: "orange",
    ServiceStatus.MAJOR_OUTAGE: "danger",
}


def worst(statuses) -> str:
    """The most severe of ``statuses`` (operational when there are none)."""
    return max(statuses, key=SERVICE_STATUS_ORDER.index, default=ServiceStatus.OPERATIONAL)


class Role(models.TextChoices):
    """Roles in an incident (DESIGN.md § Communication during an incident)."""

    COMMANDER = "commander", _("Incident commander")
    COMMS_LEAD = "comms_lead", _("Communications lead")
    RESPONDER = "responder", _("Responder")
