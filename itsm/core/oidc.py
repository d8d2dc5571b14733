"""OpenID Connect login (Keycloak, Entra ID, Google Workspace …) on mozilla-django-oidc.

The flow is the authorization code flow with PKCE (S256): the login page's "Sign in with
<provider>" button → ``/oidc/authenticate/`` (state, nonce and code verifier kept in the session) →
the provider's login → ``/oidc/callback/`` (code exchanged for tokens, ID token verified against
the provider's JWKS) → the person's portal account, whose governed roles and teams follow the
groups claim at every login (:func:`itsm.core.sso.sync_memberships`).

The provider's endpoints come from ``OIDC_ISSUER`` (its discovery document, read when first needed
and cached for an hour) or from the explicit ``OIDC_OP_*_ENDPOINT`` settings, which win. Nothing
here talks to the provider when Django merely builds the backend (it does so for every password
login and every request), so a provider that is down never locks out the local accounts.

Every failure comes back to the login page with a message saying what happened (the person
cancelled, the provider is down, the sign-in expired, a claim is missing) instead of an error page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.translation import gettext as _
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from . import sso
from .audit import record_event
from .sso import sync_memberships

logger = logging.getLogger(__name__)

# Setting → key of the provider's discovery document.
DISCOVERY_KEYS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
}
DISCOVERY_TTL_SECONDS = 3600
_discovered: dict[str, tuple[float, dict]] = {}


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be read."""


class LoginRefused(Exception):
    """The provider vouched for the person, but the portal cannot let them in (the message says
    why, in words for them)."""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER or settings.OIDC_OP_AUTHORIZATION_ENDPOINT)


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME or "OpenID Connect"


def _discovery(issuer: str) -> dict:
    cached = _discovered.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"{url}: {exc}") from exc
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        # OpenID Connect Discovery §4.3: a document for another issuer must not be used.
        raise ProviderUnavailable(f"{url} describes issuer {document.get('issuer')!r}")
    _discovered[issuer] = (time.monotonic() + DISCOVERY_TTL_SECONDS, document)
    return document


def endpoint(name: str) -> str:
    """The provider's endpoint for setting ``name``: the explicit setting, else discovery."""
    explicit = getattr(settings, name, "")
    if explicit or not settings.OIDC_ISSUER:
        return explicit or ""
    return _discovery(settings.OIDC_ISSUER).get(DISCOVERY_KEYS[name]) or ""


def role_map() -> dict[str, list[str]]:
    """``OIDC_GROUP_ROLES``, read like LDAP's maps (``sso.parse_map``: ValueError when bad)."""
    return sso.parse_map(settings.OIDC_GROUP_ROLES, name="OIDC_GROUP_ROLES")


def team_map() -> dict[str, list[str]]:
    return sso.parse_map(settings.OIDC_GROUP_TEAMS, name="OIDC_GROUP_TEAMS")


def _groups(claims: Mapping) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        return [value]
    return [str(group) for group in value]


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs a person in from the provider's claims (the ID token's, completed by userinfo).

    The account is the one whose username is the ``OIDC_USERNAME_CLAIM`` (created when
    ``OIDC_CREATE_USERS``); its names and email follow the claims, its governed roles and teams
    the groups claim. Raises :class:`LoginRefused` with a message for the person when it cannot.
    """

    def __init__(self, *args, **kwargs):
        # No settings lookups that could reach the provider: see the module docstring.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce; password logins pass through to ModelBackend.
        if request is None or "nonce" not in kwargs or not enabled():
            return None
        self.OIDC_OP_TOKEN_ENDPOINT = endpoint("OIDC_OP_TOKEN_ENDPOINT")
        self.OIDC_OP_USER_ENDPOINT = endpoint("OIDC_OP_USER_ENDPOINT")
        self.OIDC_OP_JWKS_ENDPOINT = endpoint("OIDC_OP_JWKS_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def get_or_create_user(self, access_token, id_token, payload):
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            userinfo = self.get_userinfo(access_token, id_token, payload)
            if userinfo.get("sub") != payload.get("sub"):
                # OpenID Connect Core §5.3.2: userinfo about someone else must not be used.
                raise SuspiciousOperation("userinfo sub differs from the ID token's")
            claims.update(userinfo)
        username_claim = settings.OIDC_USERNAME_CLAIM
        missing = [name for name in ("sub", username_claim) if not claims.get(name)]
        if missing:
            raise LoginRefused(
                _(
                    "%(provider)s did not send the %(claims)s claim, so the portal cannot tell "
                    "who you are. Ask the administrator of %(provider)s to release it."
                )
                % {"provider": provider_name(), "claims": ", ".join(missing)}
            )
        if username_claim == "email" and claims.get("email_verified") is False:
            raise LoginRefused(
                _(
                    "%(provider)s has not verified your email address, so it cannot name your account."
                )
                % {"provider": provider_name()}
            )
        username = str(claims[username_claim])[:150]
        user = self.UserModel.objects.filter(username=username).first()
        if user is not None and user.is_superuser:
            # The superuser is the local way in when the provider is wrong or down; a directory
            # entry that happens to carry its username must not become it.
            raise LoginRefused(
                _("The account %(username)s signs in with its portal password only.")
                % {"username": username}
            )
        if user is None:
            if not settings.OIDC_CREATE_USER:
                raise LoginRefused(
                    _("There is no portal account for %(username)s. Ask an administrator.")
                    % {"username": username}
                )
            user = self.UserModel.objects.create_user(username, email=claims.get("email", ""))
            record_event(user, action="created", actor_label="oidc", data={"source": "oidc"})
        if not user.is_active:
            raise LoginRefused(_("Your portal account is disabled. Ask an administrator."))
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        fields = {
            "email": claims.get("email"),
            "first_name": claims.get("given_name"),
            "last_name": claims.get("family_name"),
            "display_name": claims.get("name"),
        }
        changed = []
        for field, value in fields.items():
            if value is not None and getattr(user, field) != str(value)[:150]:
                setattr(user, field, str(value)[:150])
                changed.append(field)
        if changed:
            user.save(update_fields=changed)
        sync_memberships(
            user, _groups(claims), role_map=role_map(), team_map=team_map(), source="oidc"
        )
        return user


def _back_to_login(request, message: str) -> HttpResponseRedirect:
    messages.error(request, message)
    return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))


def _unreachable(request) -> HttpResponseRedirect:
    return _back_to_login(
        request,
        _(
            "%(provider)s could not be reached. Try again in a moment, or log in with your "
            "portal password."
        )
        % {"provider": provider_name()},
    )


class AuthenticateView(OIDCAuthenticationRequestView):
    """``/oidc/authenticate/``: sends the browser to the provider (state, nonce, PKCE)."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the endpoint is looked up per request, not at import

    def get(self, request):
        if not enabled():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = endpoint("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except ProviderUnavailable as exc:
            logger.warning("OpenID Connect discovery failed: %s", exc)
            return _unreachable(request)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """``/oidc/callback/``: the provider's answer; every failure ends on the login page."""

    def get(self, request):
        if not enabled():
            raise Http404
        try:
            return super().get(request)
        except LoginRefused as exc:
            return _back_to_login(request, str(exc))
        except (ProviderUnavailable, requests.RequestException) as exc:
            logger.warning("OpenID Connect provider unreachable: %s", exc)
            return _unreachable(request)
        except SuspiciousOperation as exc:
            # An unknown state (another browser, an old tab, a replay), a bad nonce or signature.
            logger.warning("OpenID Connect callback refused: %s", exc)
            return _back_to_login(
                request,
                _(
                    "Sign-in with %(provider)s could not be completed: it expired or was "
                    "started in another browser. Please try again."
                )
                % {"provider": provider_name()},
            )

    def login_failure(self):
        error = self.request.GET.get("error", "")
        if error == "access_denied":
            message = _("Sign-in with %(provider)s was cancelled.")
        elif error:
            message = _("%(provider)s refused the sign-in (%(error)s).")
        else:
            message = _("Sign-in with %(provider)s did not complete. Please try again.")
        return _back_to_login(self.request, message % {"provider": provider_name(), "error": error})


def provider_logout_url(request) -> str | None:
    """Where to send the browser so the provider's session ends too (RP-initiated logout), or
    None when this session did not come from the provider or the provider has no such endpoint
    (Google). Called before the portal's session is flushed."""
    id_token = request.session.get("oidc_id_token")
    if not (enabled() and id_token):
        return None
    try:
        end_session = endpoint("OIDC_OP_LOGOUT_ENDPOINT")
    except ProviderUnavailable as exc:
        logger.warning("OpenID Connect discovery failed at logout: %s", exc)
        return None
    if not end_session:
        return None
    params = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": request.build_absolute_uri(
            resolve_url(settings.LOGOUT_REDIRECT_URL)
        ),
        "client_id": settings.OIDC_RP_CLIENT_ID,
    }
    return f"{end_session}{'&' if '?' in end_session else '?'}{urlencode(params)}"


def logout_url(request) -> str:
    """``OIDC_OP_LOGOUT_URL_METHOD`` of mozilla-django-oidc's ``/oidc/logout/``."""
    return provider_logout_url(request) or resolve_url(
        import_from_settings("LOGOUT_REDIRECT_URL", "/")
    )
