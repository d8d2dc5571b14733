"""The portal shell in a real browser: login in ja and en, navigation, language memory, diagrams."""

import pytest
from playwright.sync_api import expect

from itsm.core.models import User
from itsm.core.roles import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def user(make_user):
    return make_user(Role.OPS_LEADER, username="leader", display_name="佐藤 花子")


def _switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("[data-testid=language-switch]", code)


def test_login_page_is_japanese_by_default_and_english_after_the_switch(page):
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("h1")).to_have_text("ログイン")
    _switch_language(page, "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.get_by_label("Username")).to_be_visible()


def test_logging_in_shows_the_shell_with_navigation(page, login, user):
    login(user)
    assert page.url.endswith("/")
    assert "/accounts/login/" not in page.url
    nav = page.get_by_role("navigation", name="メインナビゲーション")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="ワークフロー")).to_be_visible()
    expect(page.locator("[data-testid=user-menu]")).to_contain_text("佐藤 花子")
    expect(page.locator("h1")).to_have_text("マイワーク")


def test_wrong_password_keeps_the_login_page_with_an_error(page, user):
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "wrong-password")
    page.locator("form button[type=submit]").first.click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert "/accounts/login/" in page.url


def test_language_choice_persists_across_pages_and_a_new_login(
    page, login, user, browser, live_server
):
    login(user)
    _switch_language(page, "en")
    expect(page.locator("h1")).to_have_text("My work")
    page.get_by_role("link", name="Workflows").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_contain_text("Workflow")
    assert User.objects.get(pk=user.pk).language == "en"

    # A fresh browser (no cookie, Japanese browser locale) gets English after signing in.
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    fresh = context.new_page()
    fresh.goto("/accounts/login/")
    expect(fresh.locator("h1")).to_have_text("ログイン")
    fresh.fill("#id_username", user.username)
    fresh.fill("#id_password", "pass-1234!")
    fresh.locator("form button[type=submit]").first.click()
    expect(fresh.locator("html")).to_have_attribute("lang", "en")
    expect(fresh.locator("h1")).to_have_text("My work")
    context.close()


def test_workflow_diagram_is_drawn_as_svg_with_the_state_highlighted(page, login, user):
    login(user)
    page.goto("/workflows/testapp/ticket/?state=submitted")
    svg = page.locator("[data-testid=workflow-diagram] svg")
    expect(svg).to_be_visible()
    expect(svg).to_contain_text("Submitted")
    expect(svg).to_contain_text("Approve")
    expect(page.locator("[data-testid=workflow-diagram] svg .current")).to_have_count(1)
