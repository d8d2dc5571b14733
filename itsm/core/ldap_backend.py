"""The LDAP / Active Directory login: django-auth-ldap, plus the portal's roles and teams.

Listed first in ``AUTHENTICATION_BACKENDS`` when ``LDAP_SERVER_URI`` is set (``ldap_config``), with
Django's ``ModelBackend`` after it, so local accounts (the ``admin`` of the installation) still log
in, also while the directory is down. On each successful login:

- django-auth-ldap creates the user on the first login (with no usable password: the directory
  owns it) and copies name, email and display name from the entry;
- the user's group DNs go through ``LDAP_GROUP_ROLES`` / ``LDAP_GROUP_TEAMS``
  (:func:`itsm.core.sso.sync_memberships`, audited as ``directory_sync``).

A directory entry never takes over a local account: a user who has a usable password in the portal
logs in through ``ModelBackend`` only (otherwise a directory entry named ``admin`` would become the
installation's administrator). When the directory cannot be asked, the request is marked
(:func:`itsm.core.directory.report_problem`) so the form says so instead of "wrong password".
"""

from __future__ import annotations

import logging

import ldap
from django.dispatch import receiver
from django_auth_ldap.backend import LDAPBackend, ldap_error

from . import directory, sso

logger = logging.getLogger(__name__)

# No answer from the directory, as opposed to an answer the portal's configuration made wrong
# (the service account's password refused, a bad search base …).
UNREACHABLE_ERRORS = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.TIMELIMIT_EXCEEDED)


def normalize_dn(dn: str) -> str:
    """One spelling per DN (``cn=Ops, ou=Groups`` = ``cn=Ops,ou=Groups``); case is left to sso."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn))
    except ldap.DECODING_ERROR:
        return dn.strip()


def _report(request, exception: Exception, context: str) -> None:
    problem = (
        directory.UNREACHABLE
        if isinstance(exception, UNREACHABLE_ERRORS)
        else directory.MISCONFIGURED
    )
    details = exception.args[0] if exception.args and isinstance(exception.args[0], dict) else {}
    logger.warning(
        "LDAP login: the directory is %s (%s while %s: %s %s)",
        problem,
        type(exception).__name__,
        context,
        details.get("desc", exception),
        details.get("info", ""),
    )
    directory.report_problem(request, problem)


class PortalLDAPBackend(LDAPBackend):
    default_settings = {"GROUP_ROLES": "{}", "GROUP_TEAMS": "{}"}

    def _group_maps(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        roles = sso.parse_map(self.settings.GROUP_ROLES, name="LDAP_GROUP_ROLES")
        teams = sso.parse_map(self.settings.GROUP_TEAMS, name="LDAP_GROUP_TEAMS")
        return (
            {normalize_dn(group): targets for group, targets in roles.items()},
            {normalize_dn(group): targets for group, targets in teams.items()},
        )

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            role_map, team_map = self._group_maps()
        except ValueError as exc:  # the system check says so at startup too
            logger.error("LDAP login refused: %s", exc)
            directory.report_problem(request, directory.MISCONFIGURED)
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None
        try:
            groups = set()
            if self.settings.GROUP_SEARCH is not None:
                groups = {normalize_dn(dn) for dn in user.ldap_user.group_dns}
        except ldap.LDAPError as exc:
            # Without the groups the roles cannot be right: no login rather than stale roles.
            _report(request, exc, "reading the user's groups")
            return None
        sso.sync_memberships(user, groups, role_map=role_map, team_map=team_map, source="ldap")
        return user

    def get_or_build_user(self, username, ldap_user):
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and user.has_usable_password():
            logger.info(
                "LDAP login: %s is a local account; the directory may not log in as it", user
            )
            raise ldap_user.AuthenticationFailed("a local account of the same name exists")
        return user, built


@receiver(ldap_error, sender=PortalLDAPBackend, dispatch_uid="core.ldap_error")
def _directory_error(sender, context, user, request, exception, **kwargs):
    """django-auth-ldap catches LDAP errors and answers "no user"; keep why, for the login form."""
    _report(request, exception, context)
