"""The header's language switch: remembered per user, applied on every later page and login."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _lang(response) -> str:
    return response.content.decode().split('<html lang="', 1)[1].split('"', 1)[0]


def test_switching_language_saves_it_on_the_user(client, operator):
    client.force_login(operator)
    response = client.post("/language/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    operator.refresh_from_db()
    assert operator.language == "en"


def test_next_page_renders_in_the_chosen_language(client, operator):
    client.force_login(operator)
    client.post("/language/", {"language": "en", "next": "/"})
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ja")
    assert _lang(page) == "en"
    assert "My work" in page.content.decode()
    client.post("/language/", {"language": "ja", "next": "/"})
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert _lang(page) == "ja"
    assert "マイワーク" in page.content.decode()


def test_language_follows_the_user_into_a_new_session(operator):
    operator.language = "en"
    operator.save()
    fresh = Client(HTTP_ACCEPT_LANGUAGE="ja")
    fresh.force_login(operator)
    assert _lang(fresh.get("/")) == "en"


def test_default_language_is_japanese(client, operator):
    client.force_login(operator)
    assert _lang(client.get("/")) == "ja"


def test_unknown_language_is_ignored(client, operator):
    client.force_login(operator)
    response = client.post("/language/", {"language": "xx", "next": "/"})
    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.language == ""


def test_anonymous_switch_sets_the_cookie_for_the_login_page(client):
    response = client.post("/language/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    assert _lang(client.get("/accounts/login/")) == "en"


def test_switch_refuses_an_off_site_next(client, operator):
    client.force_login(operator)
    response = client.post("/language/", {"language": "en", "next": "https://evil.example/"})
    assert "evil.example" not in response.get("Location", "")
