"""Roles are groups created by migrate, with the permissions each app declares (§8.4, §9.2)."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from itsm.core.permissions import CORE_ROLE_PERMISSIONS, sync_role_permissions
from itsm.core.roles import Role, any_of, at_least, has_role, ops_rank, users_with_role

pytestmark = pytest.mark.django_db


def _declared() -> dict[str, set[str]]:
    declared: dict[str, set[str]] = {}
    for config in apps.get_app_configs():
        table = (
            CORE_ROLE_PERMISSIONS
            if config.label == "core"
            else getattr(config, "role_permissions", {})
        )
        for role, perms in table.items():
            declared.setdefault(str(role), set()).update(perms)
    return declared


def _perms_of(group: Group) -> set[str]:
    return {
        f"{app}.{code}"
        for app, code in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_every_role_is_a_group_after_migrate():
    names = set(Group.objects.values_list("name", flat=True))
    assert {role.value for role in Role} <= names


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_group_holds_the_permissions_declared_for_its_role(role):
    declared = _declared().get(role.value, set())
    assert declared, f"no permissions declared for {role.value}"
    existing = {
        f"{app}.{code}"
        for app, code in Permission.objects.values_list("content_type__app_label", "codename")
    }
    assert declared <= existing, f"declared permissions that do not exist: {declared - existing}"
    assert declared <= _perms_of(Group.objects.get(name=role.value))


def test_admin_may_edit_the_business_calendar_but_operators_only_read_teams():
    admin = _perms_of(Group.objects.get(name=Role.ADMIN))
    operator = _perms_of(Group.objects.get(name=Role.OPERATOR))
    assert {"core.change_workinghours", "core.add_closedday", "core.view_auditevent"} <= admin
    assert "core.view_team" in operator
    assert "core.change_workinghours" not in operator
    assert not any(p.startswith("core.delete_auditevent") for p in admin | operator)


def test_sync_is_additive_and_keeps_grants_added_by_hand():
    group = Group.objects.get(name=Role.OPERATOR)
    extra = Permission.objects.get(content_type__app_label="core", codename="view_auditevent")
    group.permissions.add(extra)
    sync_role_permissions()
    assert extra in group.permissions.all()
    assert "core.view_team" in _perms_of(group)


def test_user_gets_the_permissions_of_their_role(make_user):
    user = make_user(Role.ADMIN, username="calendar-admin")
    assert user.has_perm("core.change_workinghours")
    operator = make_user(Role.OPERATOR, username="plain-operator")
    assert operator.has_perm("core.view_service")
    assert not operator.has_perm("core.change_workinghours")


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.OPS_LEADER, False),
        (Role.OPS_LEADER, Role.OPERATOR, True),
        (Role.OPS_LEADER, Role.OPS_LEADER, True),
        (Role.OPS_LEADER, Role.OPS_MANAGER, False),
        (Role.OPS_MANAGER, Role.OPS_LEADER, True),
        (Role.OPS_MANAGER, Role.OPS_MANAGER, True),
        (Role.ADMIN, Role.OPS_MANAGER, True),
        # Developers and executives are escalation targets, not approvers on the ops ladder.
        (Role.DEVELOPER, Role.OPERATOR, False),
        (Role.EXECUTIVE, Role.OPERATOR, False),
        (Role.CAB_MEMBER, Role.OPERATOR, False),
        (None, Role.OPERATOR, False),
    ],
)
def test_at_least_follows_the_ops_ladder(make_user, role, needed, allowed):
    user = make_user(role)
    assert at_least(needed)(None, user) is allowed


def test_at_least_refuses_anonymous_and_admits_superusers(make_user):
    from django.contrib.auth.models import AnonymousUser

    assert at_least(Role.OPERATOR)(None, AnonymousUser()) is False
    root = make_user(None, username="root-only", is_superuser=True)
    assert at_least(Role.OPS_MANAGER)(None, root) is True
    assert ops_rank(root) > ops_rank(make_user(Role.OPS_MANAGER))


def test_at_least_carries_its_role_for_diagrams():
    permission = at_least(Role.OPS_LEADER)
    assert permission.role is Role.OPS_LEADER
    assert permission.__name__ == "at_least_ops_leader"


def test_any_of_and_has_role(make_user):
    cab = make_user(Role.CAB_MEMBER, username="cab")
    operator = make_user(Role.OPERATOR, username="op1")
    admin = make_user(Role.ADMIN, username="adm")
    vote = any_of(Role.CAB_MEMBER)
    assert vote(None, cab) and vote(None, admin)
    assert not vote(None, operator)
    assert has_role(operator, Role.OPERATOR, Role.DEVELOPER)
    assert not has_role(operator, Role.DEVELOPER)


def test_users_with_role_lists_only_active_members(make_user):
    active = make_user(Role.CAB_MEMBER, username="cab-a")
    make_user(Role.CAB_MEMBER, username="cab-b", is_active=False)
    make_user(Role.OPERATOR, username="op-x")
    assert list(users_with_role(Role.CAB_MEMBER)) == [active]
    assert users_with_role(Role.CAB_MEMBER, active_only=False).count() == 2


def test_a_persons_permissions_and_roles_are_read_in_one_query(
    make_user, django_assert_num_queries
):
    """``itsm.core.backends.AccountBackend``: what the person's groups grant, what was given
    to them alone, and the names of their groups (``has_role``) come from one query."""
    person = make_user(Role.OPS_LEADER)
    person.user_permissions.add(Permission.objects.get(codename="delete_incident"))
    person = type(person).objects.get(pk=person.pk)  # nothing cached
    with django_assert_num_queries(1):
        assert person.has_perm("incidents.view_incident")  # from the ops leader group
        assert person.has_perm("incidents.delete_incident")  # given to them
        assert not person.has_perm("backups.delete_drdrill")
        assert has_role(person, Role.OPS_LEADER) and not has_role(person, Role.OPS_MANAGER)
        assert ops_rank(person) == 2


def test_an_inactive_person_has_no_permissions_and_a_superuser_all(make_user):
    person = make_user(Role.OPS_MANAGER, is_active=False)
    assert not person.has_perm("incidents.view_incident")
    admin = make_user(None, is_superuser=True)
    assert admin.has_perm("backups.delete_drdrill") and has_role(admin, Role.ADMIN)
