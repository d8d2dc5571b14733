"""A newcomer's first hour (issue 14): every demo role opens every page of its menu in Japanese
and English at a laptop's width, and every page reads right.

For each page, at 1,366×900 and at 1,280×800: no horizontal scrolling (the page is as wide as the
window), no request leaves for another host (they are aborted and reported), and no response is
4xx/5xx. The demo data is seeded at the frozen demo moment (Thursday 2026-12-10 15:23:58 JST).

Runtime: one sign-in per role (a session cookie, no login form), the language chosen as the
switch stores it (on the user), and one browser page reused throughout; both widths are checked
on the same load by resizing the window. The API docs (Swagger UI
in the menu, and Redoc) build and draw the whole OpenAPI schema (seconds on a loaded machine) and
are the same for every role, so they are opened for the first role only, in Japanese; the test
client test in tests/core/test_menu.py opens every menu link as every role.
"""

from __future__ import annotations

import io
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = [pytest.mark.e2e]

# One user per demo role (seed_demo's DEMO_USERS; cab2 and cab3 are cab1's role again).
DEMO_ROLES = ["manager", "operator", "leader", "developer", "executive", "cab1", "admin"]
WIDTHS = [(1366, 900), (1280, 800)]
LOCAL_SCHEMES = {"data", "blob", "about"}
# The API docs: the same pages for every role, slow to build (see above), and Redoc is in no menu.
OPENED_ONCE = {"/api/docs/", "/api/redoc/"}


def sign_in(page, live_server, username: str) -> None:
    """Put a fresh session of ``username`` into the browser (what the login form would do)."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live_server.url, "httpOnly": True}]
    )


def choose_language(username: str, code: str) -> None:
    """What the top bar's language switch stores (tests/e2e/test_shell.py drives the switch)."""
    get_user_model().objects.filter(username=username).update(language=code)


def pages_of_the_menu(page) -> list[str]:
    links = page.locator("[data-testid=main-menu] a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    extra = ["/"]
    if "/changes/" in links:
        extra.append("/changes/calendar/")  # the month view (issue 14, part 1)
    return extra + links


def fits(page, width: int, height: int, settle_ms: int) -> bool:
    """The page is no wider than a window of ``width`` (charts get a moment to follow a resize)."""
    page.set_viewport_size({"width": width, "height": height})
    try:
        page.wait_for_function(
            "width => document.documentElement.scrollWidth <= width", arg=width, timeout=settle_ms
        )
    except PlaywrightTimeoutError:
        return False
    return True


def test_every_role_opens_every_page_of_its_menu_in_ja_and_en_at_a_laptops_width(
    page, live_server, demo_clock
):
    call_command("seed_demo", stdout=io.StringIO())
    host = urlparse(live_server.url).netloc
    problems: list[str] = []
    where = {"at": "sign-in"}

    def is_local(url: str) -> bool:
        parts = urlparse(url)
        return parts.scheme in LOCAL_SCHEMES or parts.netloc == host

    def refuse(route):
        problems.append(f"{where['at']}: request to another host {route.request.url}")
        route.abort()

    page.route(lambda url: not is_local(url), refuse)
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and problems.append(f"{where['at']}: {response.status} for {response.url}")
        ),
    )

    opened: set[str] = set()
    for username in DEMO_ROLES:
        sign_in(page, live_server, username)
        for language in ("ja", "en"):
            where["at"] = f"{username} {language} /"
            choose_language(username, language)
            page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})
            page.goto("/")  # "My work", the first page of the menu
            assert page.locator("html").get_attribute("lang") == language
            paths = pages_of_the_menu(page) + sorted(OPENED_ONCE - opened)
            for path in paths:
                if path in OPENED_ONCE and path in opened:
                    continue
                opened.add(path)
                where["at"] = f"{username} {language} {path}"
                if path != "/":
                    page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})
                    page.goto(path)
                settle_ms = 3_000
                if path.startswith("/api/"):
                    page.wait_for_load_state("networkidle")  # the docs fetch the schema
                    settle_ms = 15_000  # and draw it for seconds on a loaded machine
                for width, height in WIDTHS:
                    if not fits(page, width, height, settle_ms):
                        wide = page.evaluate("document.documentElement.scrollWidth")
                        problems.append(f"{where['at']} at {width} px: {wide} px wide")

    assert not problems, "\n".join(problems)
    assert "/dashboard/" in opened and "/changes/calendar/" in opened and opened >= OPENED_ONCE
