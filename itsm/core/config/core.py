"""The foundation's configuration: people and their roles, teams, services, working hours."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from ..roles import Role
from .registry import ConfigResource, Ref, register
from .services import validate_record


def _roles_only(groups):
    return groups.filter(name__in=Role.values)


def _save_user(user, data: dict, *, actor, created: bool):
    """A person created by configuration has no password: they sign in through the company
    directory (LDAP / OpenID Connect) or an administrator sets one."""
    user = user or get_user_model()()
    for name, value in data.items():
        setattr(user, name, value)
    if created:
        user.set_unusable_password()
    validate_record(user, set(data))
    user.save()
    return user


USERS = register(
    ConfigResource(
        name="users",
        model="core.User",
        key=("username",),
        fields=("display_name", "first_name", "last_name", "email", "language", "is_active"),
        many={"roles": Ref("auth.Group", "name", limit=_roles_only, source="groups")},
        save=_save_user,
        order=10,
        description="People and their roles (passwords are never read or written here).",
    )
)

TEAMS = register(
    ConfigResource(
        name="teams",
        model="core.Team",
        key=("slug",),
        fields=("name", "escalation_level", "email"),
        many={"members": Ref("core.User", "username")},
        order=20,
        description="Teams, their rung on the escalation ladder (L1–L5) and their members.",
    )
)

SERVICES = register(
    ConfigResource(
        name="services",
        model="core.Service",
        key=("slug",),
        fields=("name", "description", "is_active"),
        refs={"owner_team": Ref("core.Team")},
        order=30,
        description="The services incidents, changes and backups are about.",
    )
)

WORKING_HOURS = register(
    ConfigResource(
        name="working-hours",
        model="core.WorkingHours",
        key=("weekday",),
        fields=("start", "end"),
        order=15,
        description="The business calendar's opening hours per weekday (0 Monday … 6 Sunday).",
    )
)
