"""On-call use cases: schedules, their layers (rotations) and overrides. Every write is checked
against the actor's permissions (team leads: ops leader and above, ``OncallConfig``), validated
with field messages and audited.

- ``save_schedule`` / ``delete_schedule``
- ``save_layer`` (with its ordered people) / ``delete_layer``
- ``add_override`` / ``delete_override``: a person covers a time range (for someone).
- ``issue_feed_key`` / ``revoke_feed_keys``: the personal iCalendar feed's revocable key.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core.audit import record_event

from .models import FeedKey, Layer, LayerMember, Override, Schedule

SCHEDULE_FIELDS = ("team", "name", "slug", "level", "time_zone", "description", "is_active")
LAYER_FIELDS = (
    "name",
    "priority",
    "rotation",
    "length_days",
    "handoff_time",
    "start_date",
    "restriction",
)


def _require(actor, perm: str) -> None:
    if not getattr(actor, "has_perm", None) or not actor.has_perm(f"oncall.{perm}"):
        raise PermissionDenied(_("You may not edit on-call schedules."))


def _clean(instance, exclude=()) -> None:
    instance.full_clean(exclude=list(exclude), validate_unique=True)


@transaction.atomic
def save_schedule(*, actor, schedule: Schedule | None = None, **fields) -> Schedule:
    _require(actor, "change_schedule" if schedule else "add_schedule")
    created = schedule is None
    schedule = schedule or Schedule()
    changed = {k: v for k, v in fields.items() if k in SCHEDULE_FIELDS}
    for name, value in changed.items():
        setattr(schedule, name, value)
    _clean(schedule)
    schedule.save()
    record_event(
        schedule,
        action="create" if created else "update",
        actor=actor,
        data={k: str(v) for k, v in changed.items()},
    )
    return schedule


@transaction.atomic
def delete_schedule(schedule: Schedule, *, actor) -> None:
    _require(actor, "delete_schedule")
    record_event(schedule, action="delete", actor=actor, data={"slug": schedule.slug})
    schedule.delete()


def _people(members) -> list:
    users = list(members or [])
    errors = []
    if not users:
        errors.append(_("Choose at least one person."))
    if len({u.pk for u in users}) != len(users):
        errors.append(_("A person appears twice in the rotation."))
    if any(not u.is_active for u in users):
        errors.append(_("Inactive people cannot be on call."))
    if errors:
        raise ValidationError({"members": errors})
    return users


@transaction.atomic
def save_layer(
    *, actor, schedule: Schedule | None = None, layer: Layer | None = None, members=None, **fields
) -> Layer:
    """Create a layer in ``schedule`` or update ``layer``; ``members``: the people in rotation
    order (kept as they are when None on an update)."""
    _require(actor, "change_schedule")
    created = layer is None
    layer = layer or Layer(schedule=schedule)
    changed = {k: v for k, v in fields.items() if k in LAYER_FIELDS}
    for name, value in changed.items():
        setattr(layer, name, value)
    people = _people(members) if (created or members is not None) else None
    _clean(layer, exclude=["members"])
    layer.save()
    if people is not None:
        layer.rotation_members.all().delete()
        LayerMember.objects.bulk_create(
            LayerMember(layer=layer, user=user, position=n) for n, user in enumerate(people)
        )
    record_event(
        layer.schedule,
        action="layer_create" if created else "layer_update",
        actor=actor,
        data={
            "layer": layer.name,
            **{k: str(v) for k, v in changed.items()},
            **({"members": [u.username for u in people]} if people is not None else {}),
        },
    )
    return layer


@transaction.atomic
def delete_layer(layer: Layer, *, actor) -> None:
    _require(actor, "change_schedule")
    record_event(layer.schedule, action="layer_delete", actor=actor, data={"layer": layer.name})
    layer.delete()


@transaction.atomic
def add_override(
    *, actor, schedule: Schedule, user, start, end, replaces=None, reason: str = ""
) -> Override:
    """``user`` is on call in ``schedule`` from ``start`` to ``end`` (covering ``replaces``)."""
    _require(actor, "add_override")
    errors = {}
    if start and end and end <= start:
        errors["end"] = [_("The end must be after the start.")]
    if user is not None and not user.is_active:
        errors["user"] = [_("Inactive people cannot be on call.")]
    if replaces is not None and user is not None and replaces.pk == user.pk:
        errors["replaces"] = [_("A person cannot cover for themselves.")]
    if errors:
        raise ValidationError(errors)
    override = Override(
        schedule=schedule,
        user=user,
        start=start,
        end=end,
        replaces=replaces,
        reason=reason or "",
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _clean(override, exclude=["created_by"])
    override.save()
    record_event(
        schedule,
        action="override_add",
        actor=actor,
        data={
            "user": user.username,
            "replaces": replaces.username if replaces else None,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "reason": reason,
        },
    )
    return override


@transaction.atomic
def delete_override(override: Override, *, actor) -> None:
    _require(actor, "delete_override")
    record_event(
        override.schedule,
        action="override_delete",
        actor=actor,
        data={"user": override.user.username, "start": override.start.isoformat()},
    )
    override.delete()


# ---------------------------------------------------------------------------- feed keys


@transaction.atomic
def issue_feed_key(user) -> str:
    """A new key for ``user``'s personal shifts feed (the previous ones stop working); the
    plain key is returned once, only its digest is stored."""
    revoke_feed_keys(user)
    key, row = FeedKey.generate(user)
    row.save()
    record_event(user, action="oncall_feed_key_issued", actor=user, data={"prefix": row.prefix})
    return key


def revoke_feed_keys(user) -> int:
    revoked = FeedKey.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        record_event(user, action="oncall_feed_key_revoked", actor=user)
    return revoked


def user_for_feed_key(key: str):
    """The active user a feed key belongs to, or None (unknown, revoked, inactive)."""
    row = FeedKey.lookup(key)
    if row is None or not row.user.is_active:
        return None
    return row.user
