"""The LDAP login's settings from the environment, and the startup checks that refuse bad ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from . import slapd as directory
from .conftest import ldap_settings

directory.require_python_ldap()
import ldap  # noqa: E402 - after the check above

ROOT = Path(__file__).resolve().parents[2]

BASE_ENV = {
    "LDAP_SERVER_URI": "ldap://ldap.example.com/",
    "LDAP_BIND_DN": "cn=portal,ou=services,dc=example,dc=com",
    "LDAP_BIND_PASSWORD": "service-secret",
    "LDAP_USER_SEARCH_BASE": "ou=people,dc=example,dc=com",
    "LDAP_GROUP_SEARCH_BASE": "ou=groups,dc=example,dc=com",
}


def _python(code: str, tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LDAP_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="itsm.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        **env,
    )
    return subprocess.run(  # noqa: S603 - our own code with fixed arguments
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check(tmp_path, **env) -> subprocess.CompletedProcess:
    return _python(
        "import sys; from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check'])",
        tmp_path,
        **env,
    )


# --- what the settings module builds --------------------------------------------------------


def test_without_ldap_server_uri_only_local_accounts_log_in_and_python_ldap_is_not_imported(
    tmp_path,
):
    result = _python(
        "import sys, django; django.setup(); from django.conf import settings;"
        "print(settings.AUTHENTICATION_BACKENDS, 'ldap' in sys.modules)",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['itsm.core.backends.AccountBackend'] False"


def test_the_environment_turns_the_ldap_backend_on_before_the_local_accounts(tmp_path):
    result = _python(
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.AUTHENTICATION_BACKENDS); print(s.AUTH_LDAP_USER_SEARCH.filterstr);"
        "print(s.AUTH_LDAP_START_TLS, s.AUTH_LDAP_USER_ATTR_MAP)",
        tmp_path,
        **BASE_ENV,
        LDAP_USER_FILTER="(sAMAccountName=%(user)s)",
        LDAP_START_TLS="1",
        LDAP_ATTR_DISPLAY_NAME="",
    )
    assert result.returncode == 0, result.stderr
    backends, user_filter, tls = result.stdout.strip().splitlines()
    assert backends == (
        "['itsm.core.ldap_backend.PortalLDAPBackend', 'itsm.core.backends.AccountBackend']"
    )
    assert user_filter == "(sAMAccountName=%(user)s)"
    assert tls == "True {'first_name': 'givenName', 'last_name': 'sn', 'email': 'mail'}"


def test_ldap_on_without_python_ldap_installed_says_what_to_install(tmp_path):
    result = _python(
        "import sys; sys.modules['ldap'] = None; import django; django.setup()",
        tmp_path,
        **BASE_ENV,
    )
    assert result.returncode != 0
    assert "python-ldap / django-auth-ldap are not installed" in result.stderr


def test_start_tls_and_the_ca_file_reach_each_connection():
    values = ldap_settings(
        "ldap://ldap.example.com/",
        start_tls=True,
        ca_cert_file="/etc/ssl/company-ca.pem",
        require_cert="demand",
        timeout=7,
    )
    assert values["AUTH_LDAP_START_TLS"] is True
    options = values["AUTH_LDAP_CONNECTION_OPTIONS"]
    assert options[ldap.OPT_X_TLS_CACERTFILE] == "/etc/ssl/company-ca.pem"
    assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
    assert options[ldap.OPT_NETWORK_TIMEOUT] == 7
    assert options[ldap.OPT_TIMEOUT] == 7
    # libldap builds the TLS context from the options set before this one: it must come last.
    assert list(options)[-1] == ldap.OPT_X_TLS_NEWCTX


def test_ldaps_without_certificate_checks_is_possible_but_explicit():
    options = ldap_settings("ldaps://ldap.example.com/", require_cert="never")[
        "AUTH_LDAP_CONNECTION_OPTIONS"
    ]
    assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_NEVER
    assert ldap.OPT_X_TLS_CACERTFILE not in options


def test_active_directory_reads_nested_groups():
    from django_auth_ldap.config import NestedActiveDirectoryGroupType

    values = ldap_settings("ldap://dc1.example.com/", group_type="activedirectory")
    assert isinstance(values["AUTH_LDAP_GROUP_TYPE"], NestedActiveDirectoryGroupType)
    assert values["AUTH_LDAP_GROUP_SEARCH"].filterstr == "(objectClass=group)"


def test_direct_bind_wins_over_search_and_reads_as_the_user():
    values = ldap_settings(
        "ldap://ldap.example.com/",
        bind_dn="",
        user_dn_template="uid=%(user)s,ou=people,dc=example,dc=com",
    )
    assert values["AUTH_LDAP_USER_SEARCH"] is None
    assert values["AUTH_LDAP_USER_DN_TEMPLATE"] == "uid=%(user)s,ou=people,dc=example,dc=com"
    assert values["AUTH_LDAP_BIND_AS_AUTHENTICATING_USER"] is True


@pytest.mark.parametrize(
    ("option", "value"), [("group_type", "novell"), ("require_cert", "sometimes")]
)
def test_unknown_choices_refuse_to_start(option, value):
    with pytest.raises(ImproperlyConfigured, match=value):
        ldap_settings("ldap://ldap.example.com/", **{option: value})


# --- startup checks (manage.py check) -------------------------------------------------------


def test_a_complete_configuration_passes_the_checks(tmp_path):
    result = _check(
        tmp_path,
        **BASE_ENV,
        LDAP_GROUP_ROLES=json.dumps({"cn=ops,ou=groups,dc=example,dc=com": ["operator"]}),
        LDAP_GROUP_TEAMS=json.dumps({"cn=ops,ou=groups,dc=example,dc=com": ["l1-ops"]}),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_malformed_json_in_a_group_map_stops_the_portal(tmp_path):
    result = _check(tmp_path, **BASE_ENV, LDAP_GROUP_ROLES='{"cn=ops": ["operator"]')
    assert result.returncode != 0
    assert "sso.E001" in result.stderr
    assert "LDAP_GROUP_ROLES is not valid JSON" in result.stderr


def test_a_group_map_that_is_not_an_object_of_lists_stops_the_portal(tmp_path):
    result = _check(tmp_path, **BASE_ENV, LDAP_GROUP_TEAMS='{"cn=ops": {"team": "l1"}}')
    assert result.returncode != 0
    assert "sso.E001" in result.stderr
    assert "LDAP_GROUP_TEAMS" in result.stderr


def test_an_unknown_role_in_the_group_map_stops_the_portal(tmp_path):
    result = _check(
        tmp_path, **BASE_ENV, LDAP_GROUP_ROLES='{"cn=ops,ou=groups,dc=example,dc=com": ["root"]}'
    )
    assert result.returncode != 0
    assert "sso.E002" in result.stderr
    assert "unknown role 'root'" in result.stderr


def test_a_directory_without_a_way_to_find_users_stops_the_portal(tmp_path):
    env = {**BASE_ENV, "LDAP_USER_SEARCH_BASE": ""}
    result = _check(tmp_path, **env)
    assert "sso.E003" in result.stderr


def test_group_maps_without_a_group_search_stop_the_portal(tmp_path):
    env = {**BASE_ENV, "LDAP_GROUP_SEARCH_BASE": "", "LDAP_GROUP_ROLES": '{"cn=x": ["operator"]}'}
    result = _check(tmp_path, **env)
    assert "sso.E004" in result.stderr
