"""Directory groups → roles and teams (itsm/core/sso.py), shared by the LDAP and OIDC logins."""

from __future__ import annotations

import pytest

from itsm.core import directory, sso
from itsm.core.models import AuditEvent
from itsm.core.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

ROLE_MAP = {
    "CN=Ops,OU=Groups,DC=example,DC=org": ["operator"],
    "cn=leaders,ou=groups,dc=example,dc=org": ["ops_leader", "cab_member"],
}
TEAM_MAP = {"cn=ops,ou=groups,dc=example,dc=org": ["l1-ops", "not-yet-created"]}


def roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def sync(user, *groups):
    return sso.sync_memberships(user, groups, role_map=ROLE_MAP, team_map=TEAM_MAP, source="ldap")


def test_groups_grant_their_roles_and_teams_whatever_the_case_of_their_names(make_user):
    user = make_user(None, username="alice")
    team = TeamFactory(slug="l1-ops")

    changes = sync(
        user, "cn=ops,ou=groups,dc=example,dc=org", "CN=LEADERS,OU=GROUPS,DC=EXAMPLE,DC=ORG"
    )

    assert roles(user) == {"operator", "ops_leader", "cab_member"}
    assert list(user.teams.all()) == [team]  # the team the map names but nobody created: skipped
    assert changes == {
        "roles_added": ["cab_member", "operator", "ops_leader"],
        "roles_removed": [],
        "teams_added": ["l1-ops"],
        "teams_removed": [],
    }


def test_roles_and_teams_the_maps_do_not_govern_are_left_alone(make_user):
    user = make_user(Role.EXECUTIVE, username="alice")
    own_team = TeamFactory(slug="dbas")
    user.teams.add(own_team)

    sync(user, "cn=ops,ou=groups,dc=example,dc=org")
    sync(user)  # out of every group now

    assert roles(user) == {"executive"}
    assert list(user.teams.all()) == [own_team]


def test_leaving_a_group_takes_its_roles_away_and_says_so_in_the_audit_trail(make_user):
    user = make_user(None, username="alice")
    TeamFactory(slug="l1-ops")
    sync(user, "cn=ops,ou=groups,dc=example,dc=org", "cn=leaders,ou=groups,dc=example,dc=org")
    user._role_names = frozenset({"stale"})  # cached by a page earlier in the request

    changes = sync(user, "cn=leaders,ou=groups,dc=example,dc=org")

    assert changes["roles_removed"] == ["operator"]
    assert changes["teams_removed"] == ["l1-ops"]
    assert roles(user) == {"ops_leader", "cab_member"}
    assert not hasattr(user, "_role_names")
    event = AuditEvent.objects.for_object(user).filter(action="directory_sync").latest("pk")
    assert event.actor_label == "ldap"
    assert event.data["roles_removed"] == ["operator"]


def test_no_change_writes_no_audit_event(make_user):
    user = make_user(None, username="alice")
    TeamFactory(slug="l1-ops")
    sync(user, "cn=ops,ou=groups,dc=example,dc=org")  # also maps to a team that does not exist
    sync(user, "cn=ops,ou=groups,dc=example,dc=org")
    assert AuditEvent.objects.for_object(user).filter(action="directory_sync").count() == 1


def test_unknown_roles_in_a_map_are_named_by_the_check():
    problems = sso.check_maps({"cn=ops": ["operator", "superuser"]}, {})
    assert len(problems) == 1
    assert "'superuser'" in problems[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {}),
        ('{"cn=ops": ["operator"]}', {"cn=ops": ["operator"]}),
        ('{"cn=ops": "operator"}', {"cn=ops": ["operator"]}),
        ({"cn=ops": ["operator"]}, {"cn=ops": ["operator"]}),
    ],
)
def test_parse_map_reads_json_objects(raw, expected):
    assert sso.parse_map(raw, name="LDAP_GROUP_ROLES") == expected


@pytest.mark.parametrize(
    "raw", ['{"cn=ops": ["operator"]', '["operator"]', '{"cn=ops": [1]}', '{"cn=ops": {"a": 1}}']
)
def test_parse_map_refuses_anything_else_naming_the_setting(raw):
    with pytest.raises(ValueError, match="LDAP_GROUP_ROLES"):
        sso.parse_map(raw, name="LDAP_GROUP_ROLES")


def test_a_directory_problem_is_kept_on_the_request(rf):
    request = rf.post("/accounts/login/")
    assert directory.reported_problem(request) == ""
    directory.report_problem(request, directory.UNREACHABLE)
    assert directory.reported_problem(request) == directory.UNREACHABLE
    directory.report_problem(None, directory.UNREACHABLE)  # no request (a script): nothing to do
