"""OpenID Connect login against a real provider (npm oidc-provider, run by the test).

The browser tests click "Sign in with Test IdP" on the login page and sign in at the provider's
own page; the Django test client tests drive the provider's pages over plain HTTP
(``sign_in_at_provider``) and look at what the portal does with each answer.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.test import Client
from playwright.sync_api import expect

from itsm.core.models import AuditEvent, User
from tests.factories import TeamFactory, UserFactory

from .oidc_fixtures import (  # noqa: F401 - fixtures
    PROVIDER_NAME,
    configure,
    free_port,
    oidc_browser_settings_fixture,
    oidc_settings_fixture,
    sign_in_at_provider,
)

pytestmark = [pytest.mark.real_clock]  # the provider stamps and checks JWT iat/exp on its clock


@pytest.fixture
def teams(db):
    return TeamFactory(name="Network", slug="network"), TeamFactory(name="Leaders", slug="leaders")


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def _roles(username: str) -> set[str]:
    return set(User.objects.get(username=username).groups.values_list("name", flat=True))


def _teams(username: str) -> set[str]:
    return set(User.objects.get(username=username).teams.values_list("slug", flat=True))


def _login_page_text(client, response) -> str:
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    return client.get("/accounts/login/").content.decode()


def _start(client) -> str:
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302
    return response["Location"]


def _come_back(client, url: str):
    """The provider's redirect to the portal, requested by the test client."""
    parts = urlsplit(url)
    assert parts.netloc == "testserver", url
    return client.get(parts.path, dict(parse_qs(parts.query)))


def _sign_in(client, username="alice", password="alice-pass"):
    return _come_back(client, sign_in_at_provider(_start(client), username, password))


# --------------------------------------------------------------------- the browser


@pytest.mark.e2e
def test_sign_in_with_the_provider_maps_groups_and_logout_ends_both_sessions(
    page, live_server, oidc_browser_settings, teams
):
    page.goto("/accounts/login/")
    page.get_by_test_id("oidc-login").click()  # "Sign in with Test IdP"
    assert page.url.startswith(oidc_browser_settings.issuer)
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "alice-pass")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("[data-testid=user-menu]")).to_contain_text("Alice Liddell")
    assert page.url == f"{live_server.url}/"
    alice = User.objects.get(username="alice")
    assert (alice.email, alice.first_name, alice.last_name) == (
        "alice@example.com",
        "Alice",
        "Liddell",
    )
    assert _roles("alice") == {"operator"}
    assert _teams("alice") == {"network"}

    # Logging out of the portal goes on to the provider's sign-out and back to the login page.
    page.locator("[data-testid=user-menu]").click()
    page.locator("form[action='/accounts/logout/'] button").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_test_id("oidc-login")).to_be_visible()
    assert page.url == f"{live_server.url}/accounts/login/"

    # The provider's session ended too: the next sign-in asks for the password again; this time
    # alice is a leader in the directory, and her roles and teams follow at this login.
    oidc_browser_settings.set_groups("alice", ["itsm-leaders"])
    page.get_by_test_id("oidc-login").click()
    expect(page.locator("input[name=password]")).to_be_visible()
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "alice-pass")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-testid=user-menu]")).to_contain_text("Alice Liddell")
    assert _roles("alice") == {"ops_leader"}
    assert _teams("alice") == {"network", "leaders"}


@pytest.mark.e2e
def test_cancelling_at_the_provider_comes_back_to_the_login_page_with_a_message(
    page, oidc_browser_settings
):
    page.goto("/accounts/login/")
    page.get_by_test_id("oidc-login").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert "/accounts/login/" in page.url
    assert not User.objects.filter(username="alice").exists()


# --------------------------------------------------------------------- PKCE


@pytest.mark.django_db
def test_the_authorization_request_carries_an_s256_pkce_challenge(client, oidc_settings):
    location = _start(client)
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert query["scope"] == ["openid email profile"]


@pytest.mark.django_db
def test_the_provider_refuses_the_same_request_without_pkce(client, oidc_settings):
    parts = urlsplit(_start(client))
    query = {k: v for k, v in parse_qs(parts.query).items() if not k.startswith("code_challenge")}
    without_pkce = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    response = requests.get(without_pkce, allow_redirects=False, timeout=10)
    refused = parse_qs(urlsplit(response.headers["Location"]).query)
    assert refused["error"] == ["invalid_request"]
    assert "PKCE" in refused["error_description"][0]
    assert "requires PKCE" in oidc_settings.log()


# --------------------------------------------------------------------- claims → account


@pytest.mark.django_db
def test_first_sign_in_creates_the_account_with_roles_and_teams_from_groups(
    client, oidc_settings, teams
):
    response = _sign_in(client)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").wsgi_request.user.username == "alice"
    alice = User.objects.get(username="alice")
    assert alice.display_name == "Alice Liddell"
    assert not alice.has_usable_password()
    assert _roles("alice") == {"operator"} and _teams("alice") == {"network"}
    created = AuditEvent.objects.get(action="created", object_id=str(alice.pk))
    assert created.actor_label == "oidc"
    sync = AuditEvent.objects.get(action="directory_sync", object_id=str(alice.pk))
    assert sync.data["roles_added"] == ["operator"] and sync.data["source"] == "oidc"


@pytest.mark.django_db
def test_the_directory_governs_only_mapped_roles_at_every_sign_in(client, oidc_settings, teams):
    UserFactory(username="alice", role="cab_member")  # granted by hand: no map mentions it
    _sign_in(client)
    assert _roles("alice") == {"operator", "cab_member"}
    oidc_settings.set_groups("alice", [])
    _sign_in(Client(HTTP_ACCEPT_LANGUAGE="en"))
    assert _roles("alice") == {"cab_member"} and _teams("alice") == set()


@pytest.mark.django_db
def test_sign_in_is_refused_when_the_username_claim_is_missing(client, settings, oidc_settings):
    settings.OIDC_USERNAME_CLAIM = "employee_number"
    text = _login_page_text(client, _sign_in(client))
    assert "Test IdP did not send the employee_number claim" in text
    assert not User.objects.filter(email="alice@example.com").exists()


@pytest.mark.django_db
def test_without_account_creation_an_unknown_person_is_refused(client, settings, oidc_settings):
    settings.OIDC_CREATE_USER = False
    text = _login_page_text(client, _sign_in(client, "bob", "bob-pass"))
    assert "There is no portal account for bob" in text
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.django_db
def test_a_disabled_account_cannot_sign_in_through_the_provider(client, oidc_settings):
    UserFactory(username="bob", is_active=False)
    text = _login_page_text(client, _sign_in(client, "bob", "bob-pass"))
    assert "Your portal account is disabled" in text


@pytest.mark.django_db
def test_a_directory_entry_cannot_become_the_local_superuser(client, oidc_settings):
    UserFactory(username="alice", is_superuser=True, is_staff=True)
    text = _login_page_text(client, _sign_in(client))
    assert "The account alice signs in with its portal password only." in text
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_an_email_username_must_be_verified_by_the_provider(client, settings, oidc_settings):
    settings.OIDC_USERNAME_CLAIM = "email"
    oidc_settings.set_account("bob", email_verified=False)
    text = _login_page_text(client, _sign_in(client, "bob", "bob-pass"))
    assert "Test IdP has not verified your email address" in text
    _sign_in(client)  # alice's address is verified
    assert User.objects.filter(username="alice@example.com").exists()


# --------------------------------------------------------------------- failures


@pytest.mark.django_db
def test_cancelling_at_the_provider_says_so_on_the_login_page(client, oidc_settings):
    back = sign_in_at_provider(_start(client), "alice", "", cancel=True)
    assert "error=access_denied" in back
    assert "Sign-in with Test IdP was cancelled." in _login_page_text(
        client, _come_back(client, back)
    )


@pytest.mark.django_db
def test_a_forged_state_comes_back_to_the_login_page(client, oidc_settings):
    back = sign_in_at_provider(_start(client), "alice", "alice-pass")
    forged = back.replace("state=", "state=forged", 1)
    text = _login_page_text(client, _come_back(client, forged))
    assert "it expired or was started in another browser" in text
    assert client.get("/").status_code == 302  # not signed in


@pytest.mark.django_db
def test_a_callback_in_a_browser_that_never_started_the_sign_in_is_refused(oidc_settings):
    other_browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    back = sign_in_at_provider(_start(Client()), "alice", "alice-pass")
    text = _login_page_text(other_browser, _come_back(other_browser, back))
    assert "Sign-in with Test IdP did not complete" in text


@pytest.mark.django_db
def test_a_provider_that_is_down_is_reported_and_passwords_still_work(client, settings):
    configure(settings, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    text = _login_page_text(client, client.get("/oidc/authenticate/"))
    assert "Test IdP could not be reached" in text
    UserFactory(username="local")
    response = client.post("/accounts/login/", {"username": "local", "password": "pass-1234!"})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db
def test_a_token_endpoint_that_is_down_is_reported(client, settings, oidc_settings):
    back = sign_in_at_provider(_start(client), "alice", "alice-pass")
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{free_port()}/token"
    text = _login_page_text(client, _come_back(client, back))
    assert "Test IdP could not be reached" in text
    assert not User.objects.filter(username="alice").exists()


# --------------------------------------------------------------------- logout, off


@pytest.mark.django_db
def test_logout_sends_the_browser_to_the_provider_with_the_id_token(client, oidc_settings):
    _sign_in(client)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}" == oidc_settings.issuer
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert query["id_token_hint"][0].count(".") == 2  # a JWT
    assert client.get("/").status_code == 302  # the portal's session is over


@pytest.mark.django_db
def test_a_password_session_logs_out_of_the_portal_only(client, oidc_settings):
    UserFactory(username="local")
    client.post("/accounts/login/", {"username": "local", "password": "pass-1234!"})
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"


@pytest.mark.django_db
def test_without_configuration_there_is_no_button_and_no_oidc_pages(client):
    assert 'data-testid="oidc-login"' not in client.get("/accounts/login/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


@pytest.mark.django_db
def test_the_login_page_offers_the_provider_by_name(client, settings):
    configure(settings, "http://127.0.0.1:9")
    page = client.get("/accounts/login/?next=/changes/").content.decode()
    assert f"Sign in with {PROVIDER_NAME}" in page
    assert 'href="/oidc/authenticate/?next=/changes/"' in page or (
        'href="/oidc/authenticate/?next=%2Fchanges%2F"' in page
    )


@pytest.mark.django_db
def test_the_oidc_logout_url_also_ends_the_provider_session(client, oidc_settings):
    _sign_in(client)
    response = client.post("/oidc/logout/")
    assert response["Location"].startswith(f"{oidc_settings.issuer}/session/end?")
    assert client.get("/").status_code == 302


def test_the_startup_check_refuses_an_unknown_role_and_a_missing_client(settings):
    from itsm.core.checks import oidc_configured

    settings.OIDC_ISSUER = "https://sso.example.com/realms/example"
    settings.OIDC_RP_CLIENT_ID = ""
    settings.OIDC_GROUP_ROLES = {"itsm-ops": "operatorr"}
    problems = [error.msg for error in oidc_configured()]
    assert any("unknown role 'operatorr'" in p for p in problems)
    assert any("OIDC_RP_CLIENT_ID" in p for p in problems)
    settings.OIDC_ISSUER = ""
    assert oidc_configured() == []


def test_the_startup_check_names_an_oidc_map_that_is_not_json(settings):
    """The OIDC maps are read by the same parser as LDAP's: a typo is a startup error that
    names the variable, not a crash at the first sign-in."""
    from itsm.core.checks import oidc_configured

    settings.OIDC_ISSUER = "https://sso.example.com/realms/example"
    settings.OIDC_RP_CLIENT_ID = "itsm"
    settings.OIDC_GROUP_TEAMS = '{"itsm-ops": ["network"]'
    (problem,) = [error.msg for error in oidc_configured()]
    assert "OIDC_GROUP_TEAMS is not valid JSON" in problem
    settings.OIDC_GROUP_TEAMS = '{"itsm-ops": "network"}'
    assert oidc_configured() == []
