"""A real slapd per module, and the portal's settings pointed at it."""

from __future__ import annotations

import pytest

from . import slapd as directory


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    directory.require_slapd()
    server = directory.Slapd(tmp_path_factory.mktemp("slapd")).start()
    yield server
    server.stop()


def ldap_settings(uri: str, **overrides) -> dict:
    """The settings the portal builds from ``LDAP_*`` variables: bind and search by default."""
    from itsm.core.ldap_config import auth_ldap_settings

    values = {
        "server_uri": uri,
        "bind_dn": directory.SERVICE_DN,
        "bind_password": directory.SERVICE_PASSWORD,
        "user_search_base": directory.PEOPLE,
        "group_search_base": directory.GROUPS,
        "timeout": 2,
        "group_roles": (
            '{"cn=ops,ou=groups,dc=example,dc=org": ["operator"],'
            ' "CN=Leaders, OU=Groups, DC=example, DC=org": ["ops_leader"],'
            ' "cn=cab,ou=groups,dc=example,dc=org": ["cab_member"]}'
        ),
        "group_teams": '{"cn=ops,ou=groups,dc=example,dc=org": ["l1-ops"]}',
    }
    values.update(overrides)
    return auth_ldap_settings(**values)


@pytest.fixture
def use_ldap(settings):
    """``use_ldap(uri, **overrides)``: the portal logs in through that directory."""

    def configure(uri: str, **overrides) -> dict:
        values = ldap_settings(uri, **overrides)
        for name, value in values.items():
            setattr(settings, name, value)
        return values

    return configure
