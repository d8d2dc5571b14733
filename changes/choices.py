"""Choices of change management (seed §9) with their labels and badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    """§9.1 変更の定義: the kinds of production change under change management."""

    SYSTEM_CONFIGURATION = "system_configuration", _("System configuration")
    APPLICATION_DEPLOYMENT = "application_deployment", _("Application deployment")
    INFRASTRUCTURE_CONFIGURATION = "infrastructure_configuration", _("Infrastructure configuration")
    SECURITY_CONFIGURATION = "security_configuration", _("Security configuration")


class ClassCode(models.TextChoices):
    """§9.2 変更分類 (the seeded classes; further classes may be added as data)."""

    STANDARD = "standard", _("Standard change")
    NORMAL = "normal", _("Normal change")
    EMERGENCY = "emergency", _("Emergency change")
    MAJOR = "major", _("Major change")


class ReviewPath(models.TextChoices):
    """§9.3: where a submitted change goes."""

    AUTO_APPROVE = "auto_approve", _("Automatic approval")
    REVIEW = "review", _("Review")
    EMERGENCY_REVIEW = "emergency_review", _("Emergency review")
    CAB_REVIEW = "cab_review", _("CAB review")


class LeadTimeUnit(models.TextChoices):
    NONE = "none", _("Immediate")
    BUSINESS_DAYS = "business_days", _("Business days")
    CALENDAR_DAYS = "calendar_days", _("Calendar days")


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


RISK_COLORS = {RiskLevel.LOW: "success", RiskLevel.MEDIUM: "warning", RiskLevel.HIGH: "danger"}


class VerificationResult(models.TextChoices):
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")


class Outcome(models.TextChoices):
    SUCCESSFUL = "successful", _("Successful")
    FAILED = "failed", _("Failed")


class ApprovalKind(models.TextChoices):
    AUTOMATIC = "automatic", _("Automatic (standard change template)")
    REVIEW = "review", _("Review")
    EMERGENCY_REVIEW = "emergency_review", _("Emergency review")
    CAB = "cab", _("CAB decision")


class Decision(models.TextChoices):
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Vote(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


VOTE_COLORS = {Vote.APPROVE: "success", Vote.REJECT: "danger"}


class IncidentRelation(models.TextChoices):
    CAUSED_BY = "caused_by", _("Caused by this change")
    FIXED_BY = "fixed_by", _("Fixed by this change")


class DeploymentEnvironment(models.TextChoices):
    """§10.3 the environments a pipeline deploys to (the same codes as the releases app)."""

    DEVELOPMENT = "development", _("Development environment")
    TESTING = "testing", _("Test environment")
    STAGING = "staging", _("Staging environment")
    CANARY = "canary", _("Canary environment")
    PRODUCTION = "production", _("Production environment")


# §9.1: changes to production are under change management; the other environments are not gated.
GATED_ENVIRONMENTS = (DeploymentEnvironment.PRODUCTION,)


class GateReason(models.TextChoices):
    """Why the change gate refused a deployment (a stable code pipelines may branch on)."""

    NO_APPROVED_CHANGE = "no_approved_change", _("No approved change")
    OUTSIDE_WINDOW = "outside_window", _("Outside the change window")
    FREEZE_WINDOW = "freeze_window", _("Freeze window")
    BACKUP_PENDING = "backup_pending", _("Pre-change backup not met yet")
