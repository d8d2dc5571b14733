"""The shell's views: login throttling, health, JSON 404s, transitions panel, diagrams, API docs."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings

from itsm.core.models import AuditEvent
from itsm.core.roles import Role
from tests.testapp.models import Ticket

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # messages asserted in English below


# --- login ------------------------------------------------------------------------------------


def test_login_page_renders_and_signs_in(client, operator):
    assert client.get(LOGIN).status_code == 200
    response = client.post(LOGIN, {"username": "op", "password": "pass-1234!"})
    assert response.status_code == 302
    assert response["Location"] == "/"


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_repeated_failed_logins_are_throttled_with_429_and_a_message(client, operator):
    for _ in range(3):
        response = client.post(LOGIN, {"username": "op", "password": "wrong"})
        assert response.status_code == 200
    response = client.post(LOGIN, {"username": "op", "password": "wrong"})
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    # Even the right password waits out the window.
    response = client.post(LOGIN, {"username": "op", "password": "pass-1234!"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_throttle_is_per_username(client, operator, make_user):
    make_user(Role.OPERATOR, username="other")
    for _ in range(2):
        client.post(LOGIN, {"username": "op", "password": "wrong"})
    assert client.post(LOGIN, {"username": "op", "password": "wrong"}).status_code == 429
    response = client.post(LOGIN, {"username": "other", "password": "pass-1234!"})
    assert response.status_code == 302


def test_pages_require_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_throttle_message_is_translated(client, operator, settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ja"
    client.post(LOGIN, {"username": "op", "password": "wrong"})
    response = client.post(LOGIN, {"username": "op", "password": "wrong"})
    assert response.status_code == 429
    assert "ログインの失敗が続いたため" in response.content.decode()


# --- health -----------------------------------------------------------------------------------


def test_healthz_answers_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_readyz_names_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_is_503_naming_a_broken_broker(client, monkeypatch):
    from kombu import Connection

    from itsm.celery import app

    # The broker URL points at a port nobody listens on.
    monkeypatch.setattr(
        app, "connection_for_write", lambda *a, **kw: Connection("redis://127.0.0.1:1/0")
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")


def test_readyz_is_503_naming_a_broken_database(client, monkeypatch):
    from django.db import OperationalError

    from itsm.core import views

    class BrokenConnection:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(views, "connection", BrokenConnection())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error: OperationalError"


# --- 404 --------------------------------------------------------------------------------------


def test_api_404_is_json(client, operator):
    client.force_login(operator)
    response = client.get("/api/v1/no-such-resource/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_api_404_for_a_missing_record_is_json(api_as, operator):
    response = api_as(operator).get("/api/test/tickets/TKT-999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_html_404_is_the_portal_page(client, operator):
    client.force_login(operator)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]
    assert 'id="main"' in response.content.decode()


# --- transitions panel (HTML twin of the API) -------------------------------------------------


@pytest.fixture
def ticket():
    return Ticket.objects.create(title="Rotate keys", rollback_plan="restore previous keys")


def _may_view_tickets(user):
    user.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    return user


def _url(ticket):
    return f"/transition/testapp/ticket/{ticket.pk}/"


def test_transition_applies_and_redirects_with_a_message(client, operator, ticket):
    client.force_login(_may_view_tickets(operator))
    response = client.post(
        _url(ticket),
        {"transition": "submit", "comment": "go", "rollback_plan": "restore previous keys"},
    )
    assert response.status_code == 302
    assert response["Location"] == ticket.get_absolute_url()
    ticket.refresh_from_db()
    assert ticket.state == "submitted"
    assert AuditEvent.objects.for_object(ticket).get().actor == operator
    page = client.get(response["Location"]).content.decode()
    assert f"{ticket.number} is now Submitted." in page


def test_failed_guard_shows_the_guards_message(client, operator, ticket):
    client.force_login(_may_view_tickets(operator))
    response = client.post(_url(ticket), {"transition": "submit", "rollback_plan": ""}, follow=True)
    assert "A rollback plan is required before submission." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == "draft"


def test_user_without_the_transition_permission_cannot_apply_it(client, operator, ticket):
    ticket.submit()
    ticket.save()
    client.force_login(_may_view_tickets(operator))
    response = client.post(_url(ticket), {"transition": "approve"}, follow=True)
    assert "not allowed" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == "submitted"
    assert not AuditEvent.objects.for_object(ticket).filter(action="approve").exists()


def test_user_who_may_not_view_the_model_gets_404(client, operator, ticket):
    client.force_login(operator)
    response = client.post(_url(ticket), {"transition": "submit"})
    assert response.status_code == 404
    ticket.refresh_from_db()
    assert ticket.state == "draft"


def test_transition_needs_post(client, operator, ticket):
    client.force_login(_may_view_tickets(operator))
    assert client.get(_url(ticket)).status_code == 405


def test_transition_without_csrf_token_is_refused(operator, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(_may_view_tickets(operator))
    response = client.post(_url(ticket), {"transition": "submit"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.state == "draft"


def test_transition_with_csrf_token_is_accepted(operator, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(_may_view_tickets(operator))
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        _url(ticket),
        {"transition": "submit", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "submitted"


def test_htmx_transition_answers_with_hx_redirect(client, operator, ticket):
    client.force_login(_may_view_tickets(operator))
    response = client.post(_url(ticket), {"transition": "submit"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == ticket.get_absolute_url()


def test_next_pointing_off_site_is_ignored(client, operator, ticket):
    client.force_login(_may_view_tickets(operator))
    response = client.post(_url(ticket), {"transition": "submit", "next": "https://evil.example/"})
    assert response["Location"] == ticket.get_absolute_url()


def test_unknown_model_is_404(client, operator):
    client.force_login(operator)
    assert client.post("/transition/core/user/1/", {"transition": "x"}).status_code == 404
    assert client.post("/transition/nope/nothing/1/", {"transition": "x"}).status_code == 404


# --- workflow diagrams ------------------------------------------------------------------------


def test_workflow_page_lists_states_and_transitions(client, operator):
    client.force_login(operator)
    response = client.get("/workflows/testapp/ticket/")
    assert response.status_code == 200
    mermaid = response.context["mermaid"]
    assert mermaid.startswith("stateDiagram-v2")
    for state in ("draft", "submitted", "approved"):
        assert f"as {state}" in mermaid
    assert "draft --> submitted : Submit" in mermaid
    assert "submitted --> approved : Approve" in mermaid
    assert "class " not in mermaid
    page = response.content.decode()
    assert "vendor/mermaid/mermaid.min.js" in page
    assert "A rollback plan is required before submission." in page


def test_workflow_page_highlights_the_state_from_the_query(client, operator):
    client.force_login(operator)
    response = client.get("/workflows/testapp/ticket/?state=submitted")
    assert "class submitted current" in response.context["mermaid"]


def test_workflow_page_ignores_an_unknown_state(client, operator):
    client.force_login(operator)
    response = client.get("/workflows/testapp/ticket/?state=%22%3E%3Cscript%3E")
    assert response.status_code == 200
    assert "class " not in response.context["mermaid"]
    assert "<script>" not in response.content.decode().split("<pre")[1].split("</pre>")[0]


def test_workflow_for_a_model_without_state_machine_is_404(client, operator):
    client.force_login(operator)
    assert client.get("/workflows/core/user/").status_code == 404
    assert client.get("/workflows/nope/nothing/").status_code == 404


def test_workflow_index_redirects_to_a_machine(client, operator):
    client.force_login(operator)
    response = client.get("/workflows/")
    assert response.status_code == 302
    assert response["Location"].startswith("/workflows/")


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_render_offline(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    # Swagger UI straight from the sidecar; Redoc's bundle through the portal (its logo made local).
    assert "drf_spectacular_sidecar" in html or "/api/redoc/redoc.standalone.js" in html
    external = [
        u
        for u in re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)""", html)
        if "testserver" not in u
    ]
    assert external == []
    assert not re.search(r"cdn|unpkg|jsdelivr", html, re.IGNORECASE)
