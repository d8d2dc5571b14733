"""The LDAP / Active Directory login's settings, built from plain values read in ``itsm/settings.py``.

The settings module reads the ``LDAP_*`` environment variables and, only when ``LDAP_SERVER_URI``
is set, calls :func:`auth_ldap_settings` to turn them into django-auth-ldap's ``AUTH_LDAP_*``
settings. python-ldap is imported here, inside the function, so a portal without LDAP (or a machine
without the libldap headers python-ldap builds on) never imports it. docs/sso.md lists the variables.

TLS options go into ``AUTH_LDAP_CONNECTION_OPTIONS`` (set on each new connection, followed by
``OPT_X_TLS_NEWCTX`` so libldap builds a TLS context from them) rather than
``AUTH_LDAP_GLOBAL_OPTIONS``, which django-auth-ldap applies once per process.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

BACKEND = "itsm.core.ldap_backend.PortalLDAPBackend"
MODEL_BACKEND = "itsm.core.backends.AccountBackend"

# LDAP_GROUP_TYPE → (django-auth-ldap group type, default filter of the group search)
GROUP_TYPES = {
    "groupOfNames": ("GroupOfNamesType", "(objectClass=groupOfNames)"),
    "groupOfUniqueNames": ("GroupOfUniqueNamesType", "(objectClass=groupOfUniqueNames)"),
    "posixGroup": ("PosixGroupType", "(objectClass=posixGroup)"),
    # Active Directory: "group" objects with "member", nested groups followed.
    "activedirectory": ("NestedActiveDirectoryGroupType", "(objectClass=group)"),
}
REQUIRE_CERT = {
    "demand": "OPT_X_TLS_DEMAND",
    "allow": "OPT_X_TLS_ALLOW",
    "never": "OPT_X_TLS_NEVER",
}


def auth_ldap_settings(
    *,
    server_uri: str,
    bind_dn: str = "",
    bind_password: str = "",
    user_search_base: str = "",
    user_filter: str = "(uid=%(user)s)",
    user_dn_template: str = "",
    group_search_base: str = "",
    group_type: str = "groupOfNames",
    group_filter: str = "",
    start_tls: bool = False,
    ca_cert_file: str = "",
    require_cert: str = "demand",
    timeout: int = 5,
    attr_map: dict[str, str] | None = None,
    group_roles: str = "{}",
    group_teams: str = "{}",
) -> dict[str, Any]:
    """The ``AUTH_LDAP_*`` settings and ``AUTHENTICATION_BACKENDS`` for one directory.

    ``user_dn_template`` (direct bind) wins over ``user_search_base`` (bind as ``bind_dn``, search
    with ``user_filter``). ``group_roles`` / ``group_teams`` stay JSON text: the system checks
    report a malformed one (``itsm/core/checks.py``) instead of the settings failing to import.
    """
    try:
        import ldap
        from django_auth_ldap import config
    except ImportError as exc:
        raise ImproperlyConfigured(
            "LDAP_SERVER_URI is set but python-ldap / django-auth-ldap are not installed: install "
            "libldap2-dev and libsasl2-dev, then `make install` (the `ldap` extra)"
        ) from exc

    if group_type not in GROUP_TYPES:
        raise ImproperlyConfigured(
            f"LDAP_GROUP_TYPE={group_type!r} is not one of {', '.join(GROUP_TYPES)}"
        )
    if require_cert not in REQUIRE_CERT:
        raise ImproperlyConfigured(
            f"LDAP_REQUIRE_CERT={require_cert!r} is not one of {', '.join(REQUIRE_CERT)}"
        )
    type_name, default_group_filter = GROUP_TYPES[group_type]

    options: dict[int, Any] = {
        ldap.OPT_NETWORK_TIMEOUT: timeout,  # connecting
        ldap.OPT_TIMEOUT: timeout,  # waiting for each answer
        ldap.OPT_REFERRALS: 0,  # Active Directory's referrals would be chased anonymously
        ldap.OPT_X_TLS_REQUIRE_CERT: getattr(ldap, REQUIRE_CERT[require_cert]),
    }
    if ca_cert_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_cert_file
    options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above to this connection

    user_search = None
    if user_search_base and not user_dn_template:
        user_search = config.LDAPSearch(user_search_base, ldap.SCOPE_SUBTREE, user_filter)
    group_search = None
    if group_search_base:
        group_search = config.LDAPSearch(
            group_search_base, ldap.SCOPE_SUBTREE, group_filter or default_group_filter
        )
    if attr_map is None:
        attr_map = {
            "first_name": "givenName",
            "last_name": "sn",
            "email": "mail",
            "display_name": "displayName",
        }

    return {
        "AUTH_LDAP_SERVER_URI": server_uri,
        "AUTH_LDAP_BIND_DN": bind_dn,
        "AUTH_LDAP_BIND_PASSWORD": bind_password,
        # Without a service account, read the user's own entry and groups as the user.
        "AUTH_LDAP_BIND_AS_AUTHENTICATING_USER": not bind_dn,
        "AUTH_LDAP_USER_SEARCH": user_search,
        "AUTH_LDAP_USER_DN_TEMPLATE": user_dn_template or None,
        "AUTH_LDAP_GROUP_SEARCH": group_search,
        "AUTH_LDAP_GROUP_TYPE": getattr(config, type_name)(),
        "AUTH_LDAP_START_TLS": start_tls,
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_USER_ATTR_MAP": {field: attr for field, attr in attr_map.items() if attr},
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        # A failed lookup (directory down) must not be remembered as "no such user".
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        "AUTH_LDAP_GROUP_ROLES": group_roles,
        "AUTH_LDAP_GROUP_TEAMS": group_teams,
        "AUTHENTICATION_BACKENDS": [BACKEND, MODEL_BACKEND],
    }
