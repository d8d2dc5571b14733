"""Choices of incident management (seed §8.1–8.3) with their labels and badge colours.

Identifiers are English (they are the API's values); labels carry the seed's Japanese words
through the ja catalog. ``COLORS`` maps a value to the Bootstrap colour its badge renders with,
so templates never hard-code a colour (STYLE.md §5).
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class IncidentState(models.TextChoices):
    DETECTED = "detected", _("Detected")
    TRIAGED = "triaged", _("Triaged")
    INVESTIGATING = "investigating", _("Investigating")
    RECOVERING = "recovering", _("Recovering")
    VERIFYING = "verifying", _("Verifying")
    CLOSED = "closed", _("Closed")


INCIDENT_STATE_COLORS = {
    IncidentState.DETECTED: "danger",
    IncidentState.TRIAGED: "warning",
    IncidentState.INVESTIGATING: "primary",
    IncidentState.RECOVERING: "info",
    IncidentState.VERIFYING: "secondary",
    IncidentState.CLOSED: "success",
}

OPEN_STATES = [s for s in IncidentState if s != IncidentState.CLOSED]


class Source(models.TextChoices):
    """§8.3.1 検知方法."""

    MONITORING = "monitoring", _("Monitoring alert")
    USER_REPORT = "user_report", _("User report")
    OPS_DISCOVERY = "ops_discovery", _("Found by the operations team")


class ImpactScope(models.TextChoices):
    """§8.3.2 影響範囲."""

    ALL_USERS = "all_users", _("All users")
    SOME_USERS = "some_users", _("Some users")
    SINGLE_FEATURE = "single_feature", _("A specific feature")


class BusinessImpact(models.TextChoices):
    """§8.3.2 ビジネスインパクト."""

    REVENUE_LOSS = "revenue_loss", _("Revenue loss")
    REPUTATION = "reputation", _("Loss of trust")
    MINOR = "minor", _("Minor")


class Urgency(models.TextChoices):
    """§8.3.2 緊急度."""

    IMMEDIATE = "immediate", _("Immediate response needed")
    PLANNED = "planned", _("Can be handled as planned")


class Priority(models.TextChoices):
    """§8.1 インシデント分類. Ordered most to least urgent."""

    P1 = "P1", _("P1 (Critical)")
    P2 = "P2", _("P2 (High)")
    P3 = "P3", _("P3 (Medium)")
    P4 = "P4", _("P4 (Low)")


PRIORITY_COLORS = {
    Priority.P1: "danger",
    Priority.P2: "warning",
    Priority.P3: "info",
    Priority.P4: "secondary",
}

PRIORITY_ORDER = [p.value for p in Priority]


def lower_priority(priority: str, steps: int = 1) -> str:
    """``P1`` lowered ``steps`` levels, never below P4 (and never above P1)."""
    index = PRIORITY_ORDER.index(priority) + steps
    return PRIORITY_ORDER[max(0, min(index, len(PRIORITY_ORDER) - 1))]


class Track(models.TextChoices):
    """§8.2: P1/P2 take the urgent track (緊急対応), P3/P4 the normal track (通常対応)."""

    URGENT = "urgent", _("Urgent response")
    NORMAL = "normal", _("Normal response")


TRACK_COLORS = {Track.URGENT: "danger", Track.NORMAL: "secondary"}


def track_for(priority: str | None) -> str | None:
    if not priority:
        return None
    return Track.URGENT if priority in (Priority.P1, Priority.P2) else Track.NORMAL


class EscalationCondition(models.TextChoices):
    ALWAYS = "always", _("Always")
    # §8.4 重大影響: P1, or business impact revenue_loss.
    MAJOR_IMPACT = "major_impact", _("Major impact (P1 or revenue loss)")


class Clock(models.TextChoices):
    """Which clock a response target counts on."""

    ALWAYS = "24x7", _("24×7")
    BUSINESS = "business", _("Business hours")


class TimelineKind(models.TextChoices):
    STATUS_UPDATE = "status_update", _("Status update")
    COMMENT = "comment", _("Comment")
    TRANSITION = "transition", _("State change")
    PRIORITY_CHANGE = "priority_change", _("Priority change")
    ASSIGNMENT = "assignment", _("Assignment")
    RUNBOOK = "runbook", _("Runbook")
    LINK = "link", _("Linked record")
    ESCALATION = "escalation", _("Escalation")
    PAGING = "paging", _("Paging")
    # §8.3.3 影響の最小化: what was done to reduce the impact, apart from the fix.
    MITIGATION = "mitigation", _("Impact reduction")
    # Issue 18: the resolution clock paused or resumed (incidents.holds).
    HOLD = "hold", _("On hold")
    # Issue 19: a file attached to the incident (incidents.attachments).
    ATTACHMENT = "attachment", _("Attachment")


# Kinds a person (or client) may post directly; the others are written by services.
POSTABLE_TIMELINE_KINDS = [
    TimelineKind.STATUS_UPDATE,
    TimelineKind.COMMENT,
    TimelineKind.MITIGATION,
]

TIMELINE_COLORS = {
    TimelineKind.STATUS_UPDATE: "primary",
    TimelineKind.COMMENT: "light",
    TimelineKind.TRANSITION: "dark",
    TimelineKind.PRIORITY_CHANGE: "warning",
    TimelineKind.ASSIGNMENT: "info",
    TimelineKind.RUNBOOK: "success",
    TimelineKind.LINK: "secondary",
    TimelineKind.ESCALATION: "danger",
    TimelineKind.MITIGATION: "success",
    TimelineKind.HOLD: "secondary",
    TimelineKind.ATTACHMENT: "light",
}


class FixStatus(models.TextChoices):
    """§8.2 復旧作業 vs 修正作業: what the closer states about the root cause. Service restored
    (``recovered_at``) is not the cause removed (``fixed_at``): a workaround restores service
    and leaves the fix to a follow-up."""

    FIXED = "fixed", _("Root cause fixed")
    WORKAROUND = "workaround", _("Workaround only (fix to follow)")


class HoldReason(models.TextChoices):
    """Why an incident's resolution clock is paused (issue 18: holds)."""

    WAITING_FOR_VENDOR = "waiting_for_vendor", _("Waiting for the vendor")
    WAITING_FOR_REQUESTER = "waiting_for_requester", _("Waiting for the requester")
    SCHEDULED_FIX = "scheduled_fix", _("Fix scheduled")
    MONITORING = "monitoring", _("Monitoring")


class PostmortemKind(models.TextChoices):
    """§8.2: P1/P2 end in a postmortem (ポストモーテム), P3/P4 in a lighter review (レビュー)."""

    POSTMORTEM = "postmortem", _("Postmortem")
    REVIEW = "review", _("Review")


class PostmortemState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    PUBLISHED = "published", _("Published")


POSTMORTEM_STATE_COLORS = {
    PostmortemState.DRAFT: "secondary",
    PostmortemState.IN_REVIEW: "warning",
    PostmortemState.PUBLISHED: "success",
}


class SlaStatus(models.TextChoices):
    """Response-target status of an incident, computed on read (the sweep comes later)."""

    PENDING = "pending", _("Not triaged")
    ON_TRACK = "on_track", _("On track")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")
    # recovered by the monitor before the deadline with nobody responding: not judged
    AUTO_RECOVERED = "auto_recovered", _("Auto-recovered")


SLA_COLORS = {
    SlaStatus.PENDING: "secondary",
    SlaStatus.ON_TRACK: "success",
    SlaStatus.MET: "success",
    SlaStatus.BREACHED: "danger",
    SlaStatus.AUTO_RECOVERED: "info",
}


class ReviewState(models.TextChoices):
    """§8.2: after closing, the normal track (P3/P4) ends in a review (レビュー)."""

    PENDING = "pending", _("Review pending")
    DONE = "done", _("Reviewed")


REVIEW_STATE_COLORS = {
    ReviewState.PENDING: "warning",
    ReviewState.DONE: "success",
}


def check_choice(field: str, value, choices) -> None:
    """Refuse a value outside ``choices`` with a message naming the valid ones (a 400)."""
    if value not in choices.values:
        raise ValidationError(
            {
                field: _("“%(value)s” is not a valid choice; choose one of: %(choices)s.")
                % {"value": value, "choices": ", ".join(choices.values)}
            }
        )
