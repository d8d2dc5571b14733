"""Models of the incidents app, one module per concern (the package passed ~500 lines):

- ``incident``: incidents, triage configuration, response targets, timeline, runbooks, postmortems;
- ``escalation``: escalation policies and steps (seed §8.4);
- ``intake``: monitoring integrations, alerts and deliveries.
"""

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
    ResponseTarget,
    Runbook,
    RunbookStep,
    TimelineEntry,
    TriageRule,
    UrgencyRule,
    has_prevention_measures,
    has_resolution_summary,
    has_root_cause_analysis,
    has_summary,
    has_triage_inputs,
    may_close,
    response_due_for,
    within_reopen_window,
)

__all__ = [
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
