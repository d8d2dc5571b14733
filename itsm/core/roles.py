"""The seed's roles (§8.4 escalation path, §9.2 approvers) as Django groups.

Ranks follow the escalation ladder: L1 operator → L2 ops leader → L3 ops manager → L4 developer
→ L5 executive. "Ops leader or above" means the operations ladder (L2, L3) plus admins; developers
and executives are escalation targets, not approvers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OPERATOR = "operator", _("Operator (L1)")
    OPS_LEADER = "ops_leader", _("Ops leader (L2)")
    OPS_MANAGER = "ops_manager", _("Ops manager (L3)")
    DEVELOPER = "developer", _("Developer (L4)")
    EXECUTIVE = "executive", _("Executive (L5)")
    CAB_MEMBER = "cab_member", _("CAB member")
    ADMIN = "admin", _("Administrator")


# Escalation level of each role (§8.4). CAB membership is orthogonal to the ladder.
LEVEL = {
    Role.OPERATOR: 1,
    Role.OPS_LEADER: 2,
    Role.OPS_MANAGER: 3,
    Role.DEVELOPER: 4,
    Role.EXECUTIVE: 5,
}

# The operations ladder used by "X or above" checks; admin outranks everyone.
_OPS_RANK = {Role.OPERATOR: 1, Role.OPS_LEADER: 2, Role.OPS_MANAGER: 3, Role.ADMIN: 99}


def role_names(user) -> frozenset[str]:
    """Group names of a user, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached = cached | {Role.ADMIN.value}
        user._role_names = cached
    return cached


def has_role(user, *roles: Role | str) -> bool:
    """True if the user holds any of ``roles`` (admins and superusers hold every role)."""
    names = role_names(user)
    return Role.ADMIN.value in names or any(str(r) in names for r in roles)


def ops_rank(user) -> int:
    names = role_names(user)
    return max((rank for role, rank in _OPS_RANK.items() if role.value in names), default=0)


def at_least(role: Role) -> Callable[[object, object], bool]:
    """A django-fsm ``permission=`` callable: the user is ``role`` or higher on the ops ladder."""
    needed = _OPS_RANK[role]

    def permission(instance, user) -> bool:
        return ops_rank(user) >= needed

    permission.__name__ = f"at_least_{role.value}"
    permission.role = role  # read by the workflow diagram and the permission matrix
    return permission


def any_of(*roles: Role) -> Callable[[object, object], bool]:
    """A django-fsm ``permission=`` callable: the user holds one of ``roles`` (or is admin)."""

    def permission(instance, user) -> bool:
        return has_role(user, *roles)

    permission.__name__ = "any_of_" + "_".join(r.value for r in roles)
    permission.roles = roles
    return permission


def system_only(instance, user) -> bool:
    """A django-fsm ``permission=`` for transitions only the system takes (a sweep or a service
    acting with ``actor=None``): every person, admins included, is refused."""
    return False


system_only.description = _("the system only")


def users_with_role(role: Role | str, *, active_only: bool = True) -> Iterable:
    from django.contrib.auth import get_user_model

    qs = get_user_model().objects.filter(groups__name=str(role))
    return qs.filter(is_active=True) if active_only else qs
