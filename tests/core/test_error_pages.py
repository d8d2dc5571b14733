"""Error pages are pages of the portal (issue 14, parts 3 and 12): 403, 404, 500 and the CSRF
failure render inside the layout with the menu, in the user's language, with a way back; a 403
is one line in the log, not a traceback; the API keeps its JSON errors."""

import logging

import pytest
from django.test import Client

from itsm.core.roles import Role

pytestmark = pytest.mark.django_db


def in_layout(response) -> str:
    html = response.content.decode()
    assert 'data-testid="topbar"' in html  # the portal's top bar …
    assert 'data-testid="main-menu"' in html  # … with the user's menu
    assert 'data-testid="way-back"' in html and 'href="/"' in html  # a way back to "My work"
    return html


@pytest.fixture
def operator_en(make_user):
    return make_user(Role.OPERATOR, username="op-en", language="en")


def test_403_is_a_translated_page_inside_the_layout(client, operator):
    client.force_login(operator)
    response = client.get("/dashboard/")
    assert response.status_code == 403
    html = in_layout(response)
    assert "このページを開く権限がありません" in html
    assert "運用担当者 (L1)" in html  # the roles the user has
    assert "<title>権限がありません" in html


def test_403_in_english_offers_the_page_the_user_came_from(client, operator_en):
    client.force_login(operator_en)
    response = client.get("/dashboard/", HTTP_REFERER="http://testserver/incidents/")
    html = in_layout(response)
    assert "You may not open this page" in html
    assert 'href="http://testserver/incidents/"' in html
    assert "Back to the previous page" in html


def test_the_way_back_never_leads_to_another_site(client, operator_en):
    client.force_login(operator_en)
    html = client.get("/dashboard/", HTTP_REFERER="https://evil.example/").content.decode()
    assert "evil.example" not in html
    assert "Back to the previous page" not in html


def test_a_403_logs_one_line_without_a_traceback(client, operator, caplog):
    client.force_login(operator)
    with caplog.at_level(logging.INFO):
        assert client.get("/dashboard/").status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in refused] == ["Forbidden (Permission denied): /dashboard/"]
    assert refused[0].exc_info is None
    assert "Traceback" not in caplog.text
    # Django's own console handler is gone: each record reaches the console once (via root).
    assert logging.getLogger("django").handlers == []


def test_404_is_a_translated_page_inside_the_layout(client, operator, operator_en):
    client.force_login(operator)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "見つかりません" in in_layout(response)
    client.force_login(operator_en)
    assert "Not found" in in_layout(client.get("/no-such-page/"))


def test_api_errors_stay_json(client, operator):
    client.force_login(operator)
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_403_under_api_is_json(rf, operator):
    from itsm.views import permission_denied

    request = rf.get("/api/schema/")
    request.user = operator
    response = permission_denied(request)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"


def _broken_home(monkeypatch):
    def explode(user):
        raise RuntimeError("boom")

    monkeypatch.setattr("itsm.views.my_work", explode)


def test_500_is_a_translated_page_inside_the_layout(monkeypatch, operator_en):
    _broken_home(monkeypatch)
    client = Client(raise_request_exception=False)
    client.force_login(operator_en)
    response = client.get("/")
    assert response.status_code == 500
    html = in_layout(response)
    assert "Something went wrong on our side" in html
    assert "<title>Server error" in html


def test_500_falls_back_to_a_bare_bilingual_page_when_the_layout_fails(monkeypatch, operator):
    def down(user):
        raise RuntimeError("database down")

    # The layout itself needs the database (the bell's unread count): it cannot be drawn.
    monkeypatch.setattr("itsm.core.notifications.unread_count", down)
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    response = client.get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "サーバーエラー / Server error" in html
    assert 'href="/"' in html


def test_csrf_failure_is_a_translated_page_inside_the_layout(operator, operator_en):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post("/language/", {"language": "en"})
    assert response.status_code == 403
    html = in_layout(response)
    assert "フォームを送信できませんでした" in html
    assert "もう一度送信してください" in html

    client.force_login(operator_en)
    html = in_layout(client.post("/language/", {"language": "ja"}))
    assert "The form could not be sent" in html
    assert "reload the page and send the form again" in html
