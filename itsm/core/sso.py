"""Directory groups → the portal's roles and teams, shared by the LDAP and OpenID Connect logins.

A company directory says which groups a person belongs to (LDAP group DNs, or an OIDC ``groups``
claim). Each login backend maps those names through two tables of its own settings:

- ``role_map``: group name → list of role values (``operator``, ``ops_leader`` … ``admin``);
- ``team_map``: group name → list of team slugs.

At every login the directory is the source of truth for what the tables govern: a role or team that
appears as a target anywhere in a table is added when a mapped group grants it and removed when none
does. Roles and teams the tables never mention are left alone, so an administrator can still grant
them by hand. Each change is audited (action ``directory_sync``).

The maps come from settings as JSON text (:func:`parse_map`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from django.contrib.auth.models import Group
from django.db import transaction

from .audit import record_event
from .models import Team
from .roles import Role


def _targets(table: Mapping[str, Iterable[str]]) -> set[str]:
    return {target for targets in table.values() for target in targets}


def _granted(table: Mapping[str, Iterable[str]], groups: set[str]) -> set[str]:
    return {
        target for name, targets in table.items() if name.casefold() in groups for target in targets
    }


def parse_map(raw: str | Mapping, *, name: str) -> dict[str, list[str]]:
    """A group map from its JSON text: an object of group name → list of targets.

    A single string stands for a one-element list. Raises ``ValueError`` naming the setting.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name} must be a JSON object of group → list of names")
    table = {}
    for group, targets in raw.items():
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError(f"{name}: the value of {group!r} must be a list of names")
        table[str(group)] = targets
    return table


def check_maps(
    role_map: Mapping[str, Iterable[str]], team_map: Mapping[str, Iterable[str]]
) -> list[str]:
    """Problems with a pair of maps (unknown roles): reported by the system checks at startup."""
    known = set(Role.values)
    return [
        f"{group!r} maps to unknown role {role!r} (known: {', '.join(sorted(known))})"
        for group, roles in role_map.items()
        for role in roles
        if role not in known
    ]


@transaction.atomic
def sync_memberships(
    user,
    groups: Iterable[str],
    *,
    role_map: Mapping[str, Iterable[str]],
    team_map: Mapping[str, Iterable[str]],
    source: str,
) -> dict[str, list[str]]:
    """Give ``user`` exactly the governed roles and teams their directory ``groups`` map to.

    Group names compare case-insensitively (directories differ in how they spell DNs). Returns
    what changed: ``{"roles_added": …, "roles_removed": …, "teams_added": …, "teams_removed": …}``.
    Unknown team slugs in the map are ignored (the team may not exist yet); unknown roles are
    refused by :func:`check_maps` at startup.
    """
    groups = {g.casefold() for g in groups}

    governed_roles = _targets(role_map) & set(Role.values)
    wanted_roles = _granted(role_map, groups) & governed_roles
    current_roles = set(user.groups.filter(name__in=governed_roles).values_list("name", flat=True))
    roles_added = sorted(wanted_roles - current_roles)
    roles_removed = sorted(current_roles - wanted_roles)
    if roles_added:
        for name in roles_added:
            group, _ = Group.objects.get_or_create(name=name)
            user.groups.add(group)
    if roles_removed:
        user.groups.remove(*Group.objects.filter(name__in=roles_removed))

    governed_teams = _targets(team_map)
    wanted_teams = _granted(team_map, groups) & governed_teams
    # A slug with no team yet is neither added nor reported (else every login would audit it).
    wanted_teams &= set(Team.objects.filter(slug__in=wanted_teams).values_list("slug", flat=True))
    current_teams = set(user.teams.filter(slug__in=governed_teams).values_list("slug", flat=True))
    teams_added = sorted(wanted_teams - current_teams)
    teams_removed = sorted(current_teams - wanted_teams)
    if teams_added:
        user.teams.add(*Team.objects.filter(slug__in=teams_added))
    if teams_removed:
        user.teams.remove(*Team.objects.filter(slug__in=teams_removed))

    changes = {
        "roles_added": roles_added,
        "roles_removed": roles_removed,
        "teams_added": teams_added,
        "teams_removed": teams_removed,
    }
    if any(changes.values()):
        for cached in ("_role_names", "_perm_cache"):
            user.__dict__.pop(cached, None)
        record_event(
            user, action="directory_sync", actor_label=source, data={"source": source, **changes}
        )
    return changes
