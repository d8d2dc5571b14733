"""Incident configuration read once per process, not once per opening (issue 20).

Opening an incident reads the triage matrix, the urgency rules, the response and resolution
targets and the escalation policies with their levels: eight queries per incident when an alert
storm opens hundreds. These rows change a few times a year, so each process keeps them in memory
under a version number held in the shared cache (a cache GET, not a database query), like the
business calendar (``itsm.core.business_calendar.current_calendar``); each part is read on
first use.

Saving or deleting any of those rows (or a team, schedule or person a level names: the policy
snapshot copies their names) bumps the version when the transaction commits, so every process
reloads on its next read. The process that saved reads the rows again at once (its transaction
sees the change) and forgets them if that transaction ends without committing.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property

from django.apps import apps
from django.db import connection, transaction

from itsm.core.cache import bump_version, shared_version

VERSION_KEY = "incidents-config-version"

_loaded: dict = {}

# The rows cached here (read through the app registry: the models read this module).
CONFIG_MODELS = (
    "TriageRule",
    "UrgencyRule",
    "ResponseTarget",
    "ResolutionTarget",
    "EscalationPolicy",
    "EscalationLevel",
)


def _model(name: str):
    return apps.get_model("incidents", name)


class IncidentConfig:
    """One version of the configuration; each part is read on first use."""

    @cached_property
    def triage(self) -> dict:
        """(impact scope, business impact) → priority."""
        rows = _model("TriageRule").objects.values_list(
            "impact_scope", "business_impact", "priority"
        )
        return {(scope, impact): priority for scope, impact, priority in rows}

    @cached_property
    def urgency_shift(self) -> dict:
        """urgency → levels lowered."""
        return dict(_model("UrgencyRule").objects.values_list("urgency", "priority_shift"))

    @cached_property
    def response_targets(self) -> dict:
        return {t.priority: t for t in _model("ResponseTarget").objects.all()}

    @cached_property
    def resolution_targets(self) -> dict:
        return {t.priority: t for t in _model("ResolutionTarget").objects.all()}

    @cached_property
    def policies(self) -> tuple:
        """The active escalation policies by id, their levels (and what they name) prefetched."""
        return tuple(
            _model("EscalationPolicy")
            .objects.filter(is_active=True)
            .prefetch_related(
                "levels__target_team", "levels__target_schedule", "levels__target_user"
            )
            .order_by("id")
        )


def current() -> IncidentConfig:
    """The configuration as committed (with this process's own edits not committed yet)."""
    editing = _loaded.get("editing")
    if editing is not None and (
        not connection.atomic_blocks or connection.atomic_blocks[0] is not editing
    ):
        _loaded.clear()  # the transaction that edited it ended without committing: rolled back
    if _loaded.get("pinned") and "config" in _loaded:
        return _loaded["config"]
    version = shared_version(VERSION_KEY)
    if _loaded.get("version") != version or "config" not in _loaded:
        _loaded.update(version=version, config=IncidentConfig())
    return _loaded["config"]


@contextmanager
def pinned():
    """One look at the version for a batch of work (``services.open_incidents``: four reads
    per incident otherwise, each a cache round trip): inside, ``current()`` is the version
    found on entry, or what this process's own edits load."""
    outer = _loaded.get("pinned", False)
    current()
    _loaded["pinned"] = True
    try:
        yield
    finally:
        _loaded["pinned"] = outer


def _bump() -> None:
    pinned = _loaded.get("pinned", False)
    _loaded.clear()
    _loaded["pinned"] = pinned
    bump_version(VERSION_KEY)


def invalidate(**kwargs) -> None:
    """A configuration row was saved or deleted: this process reads it again at once (its
    transaction sees the change), every process once it commits."""
    _loaded.pop("config", None)
    if connection.in_atomic_block:
        _loaded["editing"] = connection.atomic_blocks[0]
    transaction.on_commit(_bump)


def _person_saved(sender, instance, update_fields=None, **kwargs) -> None:
    """A person's name is in the snapshot of the levels naming them; logins change nothing."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    if _model("EscalationLevel").objects.filter(target_user_id=instance.pk).exists():
        invalidate()


def connect() -> None:
    """Called by the app's ``ready()``."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from itsm.core.models import Team
    from oncall.models import Schedule

    for model in (*map(_model, CONFIG_MODELS), Team, Schedule):
        uid = f"incidents-config-{model._meta.label_lower}"
        post_save.connect(invalidate, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(invalidate, sender=model, dispatch_uid=f"{uid}-delete")
    user = get_user_model()
    post_save.connect(_person_saved, sender=user, dispatch_uid="incidents-config-user-save")
    post_delete.connect(invalidate, sender=user, dispatch_uid="incidents-config-user-delete")
