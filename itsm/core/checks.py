"""Startup checks (``manage.py check``, run by runserver, migrate and the test suite).

``workflow.E001``: every transition of every state machine is declared — with the service that
applies it or as ``workflow.PLAIN`` — in its app's ``TRANSITIONS`` table. Without this, a
transition requested through the generic endpoint would have no known use case behind it.

``sso.E001``–``sso.E004``: the LDAP login's configuration (when it is on) can work: its group maps
are JSON objects naming known roles, it knows how to find a user, and it can read the groups its
maps speak of.

``monitoring.E001``: every entry of ``METRICS_ALLOWED_NETWORKS`` is a valid address or CIDR (a
typo would otherwise surface as a failing scrape, not at startup).
"""

import ipaddress

from django.apps import apps
from django.conf import settings
from django.core import checks

from . import sso, workflow


@checks.register(checks.Tags.models)
def transitions_declared(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    configs = app_configs or apps.get_app_configs()
    for config in configs:
        for model in config.get_models():
            try:
                workflow.state_field(model)
            except TypeError:
                continue  # not a state machine
            for name in workflow.undeclared(model):
                errors.append(
                    checks.Error(
                        f"Transition “{name}” of {model._meta.label} has no declared service.",
                        hint=(
                            f"Add “{name}” to the TRANSITIONS table of the "
                            f"{config.label} app's services (its service, or workflow.PLAIN) "
                            "and register the table in the AppConfig.ready()."
                        ),
                        obj=model,
                        id="workflow.E001",
                    )
                )
    return errors


LDAP_BACKEND = "itsm.core.ldap_backend.PortalLDAPBackend"


@checks.register(checks.Tags.security)
def ldap_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if LDAP_BACKEND not in settings.AUTHENTICATION_BACKENDS:
        return []
    errors = []
    maps = {}
    for variable, setting in (
        ("LDAP_GROUP_ROLES", "AUTH_LDAP_GROUP_ROLES"),
        ("LDAP_GROUP_TEAMS", "AUTH_LDAP_GROUP_TEAMS"),
    ):
        try:
            maps[variable] = sso.parse_map(getattr(settings, setting, "{}"), name=variable)
        except ValueError as exc:
            errors.append(
                checks.Error(
                    str(exc),
                    hint='Example: {"cn=ops,ou=groups,dc=example,dc=com": ["operator"]}',
                    id="sso.E001",
                )
            )
    for problem in sso.check_maps(maps.get("LDAP_GROUP_ROLES", {}), {}):
        errors.append(checks.Error(f"LDAP_GROUP_ROLES: {problem}", id="sso.E002"))
    if not getattr(settings, "AUTH_LDAP_USER_DN_TEMPLATE", None) and not getattr(
        settings, "AUTH_LDAP_USER_SEARCH", None
    ):
        errors.append(
            checks.Error(
                "The LDAP login cannot find users.",
                hint="Set LDAP_USER_SEARCH_BASE (bind and search) or LDAP_USER_DN_TEMPLATE "
                "(direct bind).",
                id="sso.E003",
            )
        )
    if any(maps.values()) and not getattr(settings, "AUTH_LDAP_GROUP_SEARCH", None):
        errors.append(
            checks.Error(
                "LDAP_GROUP_ROLES / LDAP_GROUP_TEAMS map groups, but groups are not read.",
                hint="Set LDAP_GROUP_SEARCH_BASE.",
                id="sso.E004",
            )
        )
    return errors


@checks.register()
def oidc_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``oidc.E001``: OpenID Connect is on but cannot work (no client, a map names no role)."""
    from django.conf import settings

    from . import oidc, sso

    if not oidc.enabled():
        return []
    try:
        problems = sso.check_maps(oidc.role_map(), oidc.team_map())
    except ValueError as exc:
        problems = [str(exc)]
    if not settings.OIDC_RP_CLIENT_ID:
        problems.append("OIDC_RP_CLIENT_ID is not set")
    if not settings.OIDC_ISSUER and not (
        settings.OIDC_OP_TOKEN_ENDPOINT and settings.OIDC_OP_JWKS_ENDPOINT
    ):
        problems.append(
            "without OIDC_ISSUER, OIDC_OP_TOKEN_ENDPOINT and OIDC_OP_JWKS_ENDPOINT are needed"
        )
    return [
        checks.Error(f"OpenID Connect: {problem}", hint="See docs/sso.md.", id="oidc.E001")
        for problem in problems
    ]


@checks.register()
def metrics_networks_valid(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for item in settings.METRICS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            errors.append(
                checks.Error(
                    f"METRICS_ALLOWED_NETWORKS has an invalid network: {item!r}.",
                    hint="Comma-separated CIDRs, e.g. 127.0.0.1/32,10.0.0.0/8 (empty: none).",
                    id="monitoring.E001",
                )
            )
    return errors
