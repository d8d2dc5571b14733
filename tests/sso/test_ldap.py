"""LDAP / Active Directory login through the real login page, against a real OpenLDAP (slapd).

The directory (tests/sso/slapd.py): alice is in ops and leaders, bob in ops and cab, carol in no
group; the portal maps ops → operator + team l1-ops, leaders → ops_leader, cab → cab_member.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from itsm.core.models import AuditEvent, Team
from itsm.core.roles import Role
from tests.factories import TeamFactory

from . import slapd as directory

directory.require_python_ldap()
pytestmark = [pytest.mark.django_db, pytest.mark.real_clock]

LOGIN = "/accounts/login/"
User = get_user_model()


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # messages asserted in English below


@pytest.fixture
def l1_ops(db) -> Team:
    return TeamFactory(name="L1 ops", slug="l1-ops")


def login(client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def form_error_codes(response) -> list[str]:
    return [error.code for error in response.context["form"].non_field_errors().as_data()]


def roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_first_login_creates_the_user_with_their_directory_roles_and_teams(
    client, slapd, use_ldap, l1_ops
):
    use_ldap(slapd.uri)
    assert not User.objects.filter(username="alice").exists()

    response = login(client, "alice", "alice-pw-1")

    assert response.status_code == 302, form_error_codes(response)
    alice = User.objects.get(username="alice")
    assert int(client.session["_auth_user_id"]) == alice.pk
    assert (alice.first_name, alice.last_name, alice.email) == (
        "Alice",
        "Sato",
        "alice@example.org",
    )
    assert alice.display_name == "佐藤 アリス"
    assert not alice.has_usable_password()  # the directory owns the password
    # "CN=Leaders, OU=Groups, …" in the map matches the server's "cn=leaders,ou=groups,…"
    assert roles(alice) == {Role.OPERATOR, Role.OPS_LEADER}
    assert list(alice.teams.all()) == [l1_ops]
    event = AuditEvent.objects.for_object(alice).get(action="directory_sync")
    assert event.data["roles_added"] == ["operator", "ops_leader"]
    assert event.actor_label == "ldap"
    # The portal's own pages now open for the person.
    assert client.get("/").status_code == 200


def test_wrong_password_shows_the_form_error_and_creates_no_user(client, slapd, use_ldap):
    use_ldap(slapd.uri)

    response = login(client, "bob", "not-bobs-password")

    assert response.status_code == 200
    assert form_error_codes(response) == ["invalid_login"]
    assert "Please enter a correct" in response.content.decode()
    assert not User.objects.filter(username="bob").exists()
    assert "_auth_user_id" not in client.session
    # Nor does a name the directory does not know.
    assert form_error_codes(login(client, "mallory", "x")) == ["invalid_login"]
    assert not User.objects.filter(username="mallory").exists()
    # Filter characters in the name are escaped: "*" matches nobody, not everybody.
    assert form_error_codes(login(client, "*", "alice-pw-1")) == ["invalid_login"]
    assert form_error_codes(login(client, "ali*", "alice-pw-1")) == ["invalid_login"]
    assert User.objects.count() == 0


def test_a_user_deactivated_in_the_portal_cannot_log_in_with_the_directory_password(
    client, slapd, use_ldap
):
    use_ldap(slapd.uri)
    login(client, "alice", "alice-pw-1")
    client.post("/accounts/logout/")
    User.objects.filter(username="alice").update(is_active=False)

    response = login(client, "alice", "alice-pw-1")

    assert response.status_code == 200
    assert form_error_codes(response) == ["inactive"]
    assert "_auth_user_id" not in client.session


def test_a_group_change_in_the_directory_changes_the_roles_at_the_next_login(
    client, slapd, use_ldap, l1_ops
):
    use_ldap(slapd.uri)
    assert login(client, "alice", "alice-pw-1").status_code == 302
    alice = User.objects.get(username="alice")
    assert roles(alice) == {Role.OPERATOR, Role.OPS_LEADER}
    # A role the maps do not govern, granted by hand, is the portal's business.
    alice.groups.add(Group.objects.get_or_create(name=Role.DEVELOPER)[0])
    client.post("/accounts/logout/")

    leaders, cab, ops = (f"cn={cn},{directory.GROUPS}" for cn in ("leaders", "cab", "ops"))
    alice_dn, bob_dn = f"uid=alice,{directory.PEOPLE}", f"uid=bob,{directory.PEOPLE}"
    try:
        # The directory's administrator moves alice from the leaders to the CAB, and out of ops.
        slapd.set_members(leaders, [bob_dn])
        slapd.set_members(cab, [bob_dn, alice_dn])
        slapd.set_members(ops, [bob_dn])

        assert login(client, "alice", "alice-pw-1").status_code == 302
    finally:
        slapd.set_members(leaders, [alice_dn])
        slapd.set_members(cab, [bob_dn])
        slapd.set_members(ops, [alice_dn, bob_dn])

    assert roles(alice) == {Role.CAB_MEMBER, Role.DEVELOPER}
    assert list(alice.teams.all()) == []
    event = AuditEvent.objects.for_object(alice).filter(action="directory_sync").latest("pk")
    assert event.data["roles_added"] == ["cab_member"]
    assert event.data["roles_removed"] == ["operator", "ops_leader"]
    assert event.data["teams_removed"] == ["l1-ops"]


def test_an_unchanged_directory_writes_no_audit_event_at_the_next_login(
    client, slapd, use_ldap, l1_ops
):
    use_ldap(slapd.uri)
    login(client, "alice", "alice-pw-1")
    client.post("/accounts/logout/")
    login(client, "alice", "alice-pw-1")
    alice = User.objects.get(username="alice")
    assert AuditEvent.objects.for_object(alice).filter(action="directory_sync").count() == 1


def test_direct_bind_logs_in_without_a_service_account(client, slapd, use_ldap):
    use_ldap(
        slapd.uri,
        bind_dn="",
        bind_password="",
        user_search_base="",
        user_dn_template=f"uid=%(user)s,{directory.PEOPLE}",
    )

    response = login(client, "bob", "bob-pw-1")

    assert response.status_code == 302, form_error_codes(response)
    bob = User.objects.get(username="bob")
    assert bob.email == "bob@example.org"
    assert roles(bob) == {Role.OPERATOR, Role.CAB_MEMBER}  # groups read as bob himself
    client.post("/accounts/logout/")
    assert form_error_codes(login(client, "carol", "wrong")) == ["invalid_login"]
    assert not User.objects.filter(username="carol").exists()


def test_posix_groups_map_to_roles(client, slapd, use_ldap):
    use_ldap(
        slapd.uri,
        group_type="posixGroup",
        group_search_base=directory.POSIX,
        group_roles='{"cn=ops,ou=posix,dc=example,dc=org": ["operator"]}',
        group_teams="{}",
    )
    assert login(client, "alice", "alice-pw-1").status_code == 302
    assert roles(User.objects.get(username="alice")) == {Role.OPERATOR}


def test_a_person_in_no_mapped_group_logs_in_with_no_role(client, slapd, use_ldap):
    use_ldap(slapd.uri)
    assert login(client, "carol", "carol-pw-1").status_code == 302
    carol = User.objects.get(username="carol")
    assert roles(carol) == set()
    assert not AuditEvent.objects.for_object(carol).filter(action="directory_sync").exists()


# --- the directory cannot be asked ----------------------------------------------------------


def test_directory_down_says_so_on_the_form_not_wrong_password(client, use_ldap, tmp_path, caplog):
    directory.require_slapd()
    server = directory.Slapd(tmp_path).start()
    try:
        use_ldap(server.uri)
        assert login(client, "alice", "alice-pw-1").status_code == 302
        client.post("/accounts/logout/")
    finally:
        server.stop()

    with caplog.at_level(logging.WARNING, logger="itsm.core.ldap_backend"):
        response = login(client, "alice", "alice-pw-1")

    assert response.status_code == 200
    assert form_error_codes(response) == ["directory_unreachable"]
    assert "The directory server cannot be reached" in response.content.decode()
    assert "Please enter a correct" not in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert "the directory is unreachable (SERVER_DOWN" in caplog.text
    # A newcomer is not created either.
    assert form_error_codes(login(client, "bob", "bob-pw-1")) == ["directory_unreachable"]
    assert not User.objects.filter(username="bob").exists()


def test_directory_down_in_direct_bind_mode_says_so_too(client, use_ldap):
    use_ldap(
        f"ldap://127.0.0.1:{directory.free_port()}/",
        bind_dn="",
        user_search_base="",
        user_dn_template=f"uid=%(user)s,{directory.PEOPLE}",
    )
    response = login(client, "alice", "alice-pw-1")
    assert response.status_code == 200
    assert form_error_codes(response) == ["directory_unreachable"]


def test_a_directory_that_never_answers_times_out_with_the_same_message(client, use_ldap):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        use_ldap(f"ldap://127.0.0.1:{silent.getsockname()[1]}/", timeout=1)
        started = time.monotonic()
        response = login(client, "alice", "alice-pw-1")
        elapsed = time.monotonic() - started

    assert form_error_codes(response) == ["directory_unreachable"]
    assert elapsed < 5, f"LDAP_TIMEOUT=1 but the login waited {elapsed:.1f} s"


def test_a_refused_service_account_is_reported_as_a_configuration_problem(
    client, slapd, use_ldap, caplog
):
    use_ldap(slapd.uri, bind_password="not-the-service-password")
    with caplog.at_level(logging.WARNING, logger="itsm.core.ldap_backend"):
        response = login(client, "alice", "alice-pw-1")
    assert form_error_codes(response) == ["directory_misconfigured"]
    assert "ask your administrator" in response.content.decode()
    assert "INVALID_CREDENTIALS" in caplog.text
    assert not User.objects.filter(username="alice").exists()


def test_a_malformed_group_map_refuses_directory_logins_with_a_clear_message(
    client, slapd, use_ldap
):
    use_ldap(slapd.uri, group_roles="{not json")
    response = login(client, "alice", "alice-pw-1")
    assert response.status_code == 200
    assert form_error_codes(response) == ["directory_misconfigured"]


# --- local accounts -------------------------------------------------------------------------


def test_the_local_admin_still_logs_in_with_ldap_on_and_while_it_is_down(
    client, slapd, use_ldap, admin_user
):
    admin_user.set_password("local-admin-pw")
    admin_user.save()
    use_ldap(slapd.uri)
    assert login(client, admin_user.username, "local-admin-pw").status_code == 302
    client.post("/accounts/logout/")

    use_ldap(f"ldap://127.0.0.1:{directory.free_port()}/")
    assert login(client, admin_user.username, "local-admin-pw").status_code == 302


def test_a_directory_entry_does_not_take_over_a_local_account_of_the_same_name(
    client, slapd, use_ldap, make_user
):
    local = make_user(Role.ADMIN, username="admin")
    local.set_password("local-admin-pw")
    local.save()
    use_ldap(slapd.uri)

    # The directory's "admin" has another password: it does not open the portal's admin.
    response = login(client, "admin", directory.PASSWORDS["admin"])
    assert form_error_codes(response) == ["invalid_login"]
    local.refresh_from_db()
    assert local.has_usable_password()
    assert roles(local) == {Role.ADMIN}
    assert login(client, "admin", "local-admin-pw").status_code == 302


def test_an_account_handed_to_the_directory_logs_in_through_it(client, slapd, use_ldap, make_user):
    """A local account whose password was made unusable belongs to the directory entry."""
    existing = make_user(Role.EXECUTIVE, username="carol")
    existing.set_unusable_password()
    existing.save()
    use_ldap(slapd.uri)
    assert login(client, "carol", "carol-pw-1").status_code == 302
    existing.refresh_from_db()
    assert existing.email == "carol@example.org"
    assert roles(existing) == {Role.EXECUTIVE}  # not governed by the maps: left alone


# --- StartTLS against a real certificate -----------------------------------------------------


@pytest.fixture(scope="module")
def tls_slapd(tmp_path_factory):
    directory.require_slapd()
    server = directory.Slapd(tmp_path_factory.mktemp("slapd-tls"), tls=True).start()
    yield server
    server.stop()


def test_start_tls_with_the_company_ca_logs_in(client, tls_slapd, use_ldap):
    use_ldap(tls_slapd.uri, start_tls=True, ca_cert_file=str(tls_slapd.ca_file))
    response = login(client, "alice", "alice-pw-1")
    assert response.status_code == 302, form_error_codes(response)
    assert User.objects.filter(username="alice").exists()


def test_start_tls_refuses_a_certificate_it_cannot_trust(client, tls_slapd, use_ldap, caplog):
    use_ldap(tls_slapd.uri, start_tls=True)  # the test CA is not among the system's CAs
    with caplog.at_level(logging.WARNING, logger="itsm.core.ldap_backend"):
        response = login(client, "alice", "alice-pw-1")
    assert form_error_codes(response) == ["directory_unreachable"]
    assert not User.objects.filter(username="alice").exists()
    assert "the directory is unreachable" in caplog.text
    # The same server with the check turned off (each connection builds its own TLS context):
    # it was the certificate, not the server, that was refused.
    use_ldap(tls_slapd.uri, start_tls=True, require_cert="never")
    assert login(client, "alice", "alice-pw-1").status_code == 302
