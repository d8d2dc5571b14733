"""Choices of release management (seed §10) with their Japanese labels and badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class ReleaseType(models.TextChoices):
    """§10.2 リリース種別."""

    MAJOR = "major", _("Major release")
    MINOR = "minor", _("Minor release")
    PATCH = "patch", _("Patch release")
    HOTFIX = "hotfix", _("Hotfix")


RELEASE_TYPE_COLORS = {
    ReleaseType.MAJOR: "danger",
    ReleaseType.MINOR: "primary",
    ReleaseType.PATCH: "info",
    ReleaseType.HOTFIX: "warning",
}


class Strategy(models.TextChoices):
    """§10.4 デプロイメント方式."""

    BLUE_GREEN = "blue_green", _("Blue-Green")
    ROLLING = "rolling", _("Rolling")
    CANARY = "canary", _("Canary")


# §10.4 デプロイメント方式の比較: shown as help when a strategy is chosen.
STRATEGY_COMPARISON = [
    (Strategy.BLUE_GREEN, _("Zero downtime"), _("Needs twice the resources")),
    (Strategy.ROLLING, _("Resource-efficient"), _("Gradual switch-over")),
    (Strategy.CANARY, _("Minimises risk"), _("Needs complex control")),
]


class Frequency(models.TextChoices):
    """§10.2 頻度."""

    QUARTERLY = "quarterly", _("Quarterly")
    MONTHLY = "monthly", _("Monthly")
    WEEKLY = "weekly", _("Weekly")
    ANY_TIME = "any_time", _("Any time")


class Stage(models.TextChoices):
    """§10.3 the five environments of the release flow, in order."""

    DEVELOPMENT = "development", _("Development environment")
    TESTING = "testing", _("Test environment")
    STAGING = "staging", _("Staging environment")
    CANARY = "canary", _("Canary environment")
    PRODUCTION = "production", _("Production environment")


STAGE_ORDER = [s.value for s in Stage]


class DeploymentResult(models.TextChoices):
    """What is stored on a deployment. ``queued`` and ``in_progress`` are a pipeline's interim
    reports; the other three are final (only they count in the DORA figures)."""

    QUEUED = "queued", _("Queued")
    IN_PROGRESS = "in_progress", _("In progress")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    ROLLED_BACK = "rolled_back", _("Rolled back")


FINISHED_RESULTS = (
    DeploymentResult.SUCCEEDED,
    DeploymentResult.FAILED,
    DeploymentResult.ROLLED_BACK,
)
FAILED_RESULTS = (DeploymentResult.FAILED, DeploymentResult.ROLLED_BACK)

DEPLOYMENT_RESULT_COLORS = {
    DeploymentResult.QUEUED: "secondary",
    DeploymentResult.IN_PROGRESS: "info",
    DeploymentResult.SUCCEEDED: "success",
    DeploymentResult.FAILED: "danger",
    DeploymentResult.ROLLED_BACK: "warning",
}


class DeploymentStatus(models.TextChoices):
    """The deployment API's ``status`` vocabulary (the words CI/CD tools use). Older clients
    send ``result`` with the stored words instead; both are accepted."""

    QUEUED = "queued", _("Queued")
    IN_PROGRESS = "in_progress", _("In progress")
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")
    ROLLED_BACK = "rolled_back", _("Rolled back")


STATUS_TO_RESULT = {
    DeploymentStatus.QUEUED: DeploymentResult.QUEUED,
    DeploymentStatus.IN_PROGRESS: DeploymentResult.IN_PROGRESS,
    DeploymentStatus.SUCCESS: DeploymentResult.SUCCEEDED,
    DeploymentStatus.FAILURE: DeploymentResult.FAILED,
    DeploymentStatus.ROLLED_BACK: DeploymentResult.ROLLED_BACK,
}
RESULT_TO_STATUS = {result: status for status, result in STATUS_TO_RESULT.items()}


# §10.3 各環境の役割, seeded as Environment rows. Stored in English and shown through the
# translation catalog (``Environment.display_role``), so an admin's own wording is kept as is.
DEFAULT_ENVIRONMENTS = [
    # code, name, role
    (
        Stage.DEVELOPMENT.value,
        gettext_noop("Development"),
        gettext_noop("Feature development and unit tests"),
    ),
    (
        Stage.TESTING.value,
        gettext_noop("Testing"),
        gettext_noop("Integration tests and quality assurance"),
    ),
    (
        Stage.STAGING.value,
        gettext_noop("Staging"),
        gettext_noop("Final check in a production-equivalent configuration"),
    ),
    (
        Stage.CANARY.value,
        gettext_noop("Canary"),
        gettext_noop("Early release to a subset of users"),
    ),
    (Stage.PRODUCTION.value, gettext_noop("Production"), gettext_noop("Release to all users")),
]

# §10.2 リリーススケジュール, seeded as ReleaseCadence rows ([日時] becomes configurable data).
# release type, frequency, weekday (0=Mon), week of month, month of quarter, time, target
DEFAULT_CADENCES = [
    (
        ReleaseType.MAJOR.value,
        Frequency.QUARTERLY.value,
        1,
        3,
        1,
        "10:00",
        gettext_noop("Large feature additions"),
    ),
    (
        ReleaseType.MINOR.value,
        Frequency.MONTHLY.value,
        1,
        2,
        1,
        "10:00",
        gettext_noop("Feature improvements"),
    ),
    (ReleaseType.PATCH.value, Frequency.WEEKLY.value, 3, 1, 1, "10:00", gettext_noop("Bug fixes")),
    (
        ReleaseType.HOTFIX.value,
        Frequency.ANY_TIME.value,
        0,
        1,
        1,
        "00:00",
        gettext_noop("Emergency response"),
    ),
]
