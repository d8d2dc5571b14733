"""Writing and reading the append-only audit trail."""

from __future__ import annotations

import functools

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


def record_event(obj: models.Model, **fields) -> AuditEvent:
    """Append one audit event about ``obj`` (a transition or an edit that matters); ``fields``
    are :func:`audit_event`'s."""
    event = audit_event(obj, **fields)
    event.save(force_insert=True)
    return event


def audit_event(
    obj: models.Model,
    *,
    action: str,
    actor=None,
    actor_label: str = "",
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """``record_event``'s event, not saved yet: for writers that append many at once
    (``AuditEvent.objects.bulk_create``, the escalation sweep)."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent(
        actor=actor,
        actor_label=actor_label[:150],
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        from_state=str(from_state or ""),
        to_state=str(to_state or ""),
        comment=comment or "",
        data=data or {},
    )


def events_for(obj: models.Model):
    return AuditEvent.objects.for_object(obj).select_related("actor", "content_type")


# --- Display: labels in the reader's language, computed when the page renders ------------
# Audit events store codes (action, states, actor label); these turn them into words at
# display time, so a Japanese reader and an English reader each see their own language.

# Actions that are not django-fsm transitions (those take the transition's own label).
ACTION_LABELS = {
    "open": _("Opened"),
    "create": _("Created"),
    "created": _("Created"),
    "update": _("Updated"),
    "updated": _("Updated"),
    "edited": _("Edited"),
    "planned": _("Planned"),
    "recorded": _("Recorded"),
    "rescheduled": _("Rescheduled"),
    "restored": _("Restored"),
    "verified": _("Verified"),
    "escalate": _("Escalated"),
    "response_breached": _("Response target breached"),
    "override_priority": _("Priority overridden"),
    "raise_priority": _("Priority raised"),
    "update_whys": _("5 whys updated"),
    "add_action_item": _("Action item added"),
    "action_item_done": _("Action item done"),
    "action_item_reopened": _("Action item reopened"),
    "update_action_item": _("Action item edited"),
    "revoke": _("Revoked"),
    "delete": _("Deleted"),
    "incident_linked": _("Incident linked"),
    "attachment_added": _("Attachment added"),
    "attachment_deleted": _("Attachment deleted"),
    "causing_deployment_linked": _("Causing deployment linked"),
    "causing_deployment_unlinked": _("Causing deployment unlinked"),
    "production_deployment_refused": _("Production deployment refused"),
    "post_implementation_review_amended": _("Post-implementation review amended"),
    "cab_vote": _("CAB vote"),
    "directory_sync": _("Roles and teams synced from the directory"),
    "split_alert_group": _("Alert group split"),
    "storm_started": _("Alert storm started"),
    "backup_recovered": _("Backup recovered"),
    "backup_waived": _("Backup failure waived"),
    "rpo_breached": _("RPO breached"),
    "rpo_recovered": _("RPO met again"),
    "rto_exception_granted": _("RTO exception granted"),
    "overdue_notified": _("Owner notified: overdue"),
    "drill_overdue_notified": _("Owner notified: DR drill overdue"),
    "drill_scheduled": _("DR drill scheduled"),
    "rotate_secret": _("Secret rotated"),
    "revoke_secret": _("Secret revoked"),
}

# Names the system acts under (``actor_label`` when no person acted).
ACTOR_LABELS = {
    "escalation clock": _("Escalation clock"),
    "change routing": _("Change routing"),
    "CAB": _("CAB"),
    "backups": _("Backup monitoring"),
    "backups.check_rpo": _("RPO check"),
    "backups.retention": _("Backup retention"),
    "backups.executor": _("Backup executor"),
    "demo": _("Demo data"),
    "intake": _("Alert intake"),
    "manage.py issue_token": _("Command line (issue_token)"),
}


def humanize_code(code: str) -> str:
    """Last resort for a code without a label: words, never a raw ``snake_case`` token."""
    return code.replace("_", " ").replace(".", " ").strip().capitalize()


def _model_of(event: AuditEvent):
    try:
        return event.content_type.model_class()
    except ContentType.DoesNotExist:
        return None


@functools.cache
def _transition_labels(model) -> dict:
    """Transition name → its (lazy, translatable) label; built once per model."""
    from .workflow import all_transitions

    try:
        transitions = all_transitions(model)
    except TypeError:  # not a state machine
        return {}
    return {t.name: t.custom["label"] for t in transitions if t.custom.get("label")}


@functools.cache
def _state_labels(model) -> dict:
    from .workflow import state_field

    try:
        choices = state_field(model).choices or []
    except TypeError:
        return {}
    return {str(value): label for value, label in choices}


def action_label(event: AuditEvent) -> str:
    model = _model_of(event)
    transitions = _transition_labels(model) if model else {}
    if event.action in transitions:
        return str(transitions[event.action])
    if event.action in ACTION_LABELS:
        return str(ACTION_LABELS[event.action])
    return humanize_code(event.action)


def state_label(event: AuditEvent, value: str) -> str:
    if not value:
        return ""
    model = _model_of(event)
    states = _state_labels(model) if model else {}
    return str(states[value]) if value in states else humanize_code(value)


# "<kind>:<name>" labels: a kind of system actor with the name it reported (``pipeline:github``).
ACTOR_KINDS = {
    "pipeline": _("pipeline %(name)s"),
}


def actor_label(label: str) -> str:
    """A system actor's name in the reader's language; other labels (an integration's name, a
    command line) are names and shown as stored."""
    if label in ACTOR_LABELS:
        return str(ACTOR_LABELS[label])
    kind, colon, name = label.partition(":")
    if colon and kind in ACTOR_KINDS:
        return str(ACTOR_KINDS[kind]) % {"name": name}
    return label
