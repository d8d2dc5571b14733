"""Models of the incidents app, one module per concern (the package passed ~500 lines):

- ``incident``: incidents, triage configuration, response targets, timeline, runbooks, postmortems;
- ``escalation``: escalation policies and steps (seed §8.4);
- ``paging``: pages sent to people and their acknowledgement;
- ``review``: the post-incident review;
- ``link``: typed links between incidents;
- ``fix``: the follow-up of a root-cause fix after a workaround (§8.2);
- ``sla``: resolution targets and holds (the pausable resolution clock).

The monitoring intake (integrations, alerts, deliveries) is its own app: ``intake``.
"""

from .escalation import (
    MANUAL_REASONS,
    EscalationCondition,
    EscalationLevel,
    EscalationPolicy,
    EscalationReason,
    EscalationStep,
    IncidentEscalation,
    StepKind,
    level_label,
)
from .fix import FixFollowUp
from .incident import (
    ActionItem,
    ChecklistItem,
    FiveWhy,
    Incident,
    IncidentPolicy,
    IncidentQuerySet,
    IncidentRunbook,
    Postmortem,
    PostmortemQuerySet,
    ResolutionTarget,
    ResponseTarget,
    Runbook,
    RunbookStep,
    TimelineEntry,
    TriageRule,
    UrgencyRule,
    fix_statement_consistent,
    has_prevention_measures,
    has_resolution_summary,
    has_root_cause_analysis,
    has_summary,
    has_triage_inputs,
    may_close,
    priority_for,
    resolution_due_for,
    resolution_target,
    response_due_for,
    within_reopen_window,
)
from .link import DIRECTED_KINDS, INVERSE_LABELS, Link, LinkKind
from .paging import AckChannel, Page, PageTarget
from .review import (
    IncidentReview,
    IncidentReviewItem,
    ReviewCheck,
    all_checks_ticked,
    has_review_comment,
    may_complete_review,
)
from .sla import Hold, HoldQuerySet

__all__ = [
    "FixFollowUp",
    "fix_statement_consistent",
    "Hold",
    "HoldQuerySet",
    "ResolutionTarget",
    "resolution_due_for",
    "resolution_target",
    "DIRECTED_KINDS",
    "INVERSE_LABELS",
    "Link",
    "LinkKind",
    "AckChannel",
    "Page",
    "PageTarget",
    "IncidentReview",
    "IncidentReviewItem",
    "ReviewCheck",
    "all_checks_ticked",
    "has_review_comment",
    "may_complete_review",
    "EscalationCondition",
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationReason",
    "EscalationStep",
    "IncidentEscalation",
    "level_label",
    "MANUAL_REASONS",
    "StepKind",
    "ActionItem",
    "ChecklistItem",
    "FiveWhy",
    "has_prevention_measures",
    "has_resolution_summary",
    "has_root_cause_analysis",
    "has_summary",
    "has_triage_inputs",
    "Incident",
    "IncidentPolicy",
    "IncidentQuerySet",
    "IncidentRunbook",
    "may_close",
    "priority_for",
    "Postmortem",
    "PostmortemQuerySet",
    "response_due_for",
    "ResponseTarget",
    "Runbook",
    "RunbookStep",
    "TimelineEntry",
    "TriageRule",
    "UrgencyRule",
    "within_reopen_window",
]
