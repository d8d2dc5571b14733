"""The layout at a laptop's width, in a real browser (issue 14, parts 1 and 2): the change calendar's
month view and the top bar."""

import pytest
import time_machine
from django.utils import translation

from changes import services
from itsm.core.models import Notification
from itsm.core.roles import Role
from tests.changes.factories import ChangeRequestFactory, jst
from tests.factories import ServiceFactory

pytestmark = [pytest.mark.e2e]

LONG_TITLE = (
    "Replace the load balancer certificates of every public web shop endpoint "
    "and verify the payment provider callbacks end to end"
)


def _english(page):
    with page.expect_navigation():
        page.select_option("[data-testid=language-switch]", "en")


def box(page, selector):
    return page.locator(selector).first.bounding_box()


@pytest.fixture
def june_changes(make_user):
    """Two approved changes in June 2026: a long title on Wednesday the 10th, another on the 11th."""
    manager = make_user(Role.OPS_MANAGER, username="boss")
    web = ServiceFactory(slug="web", name="Web shop")
    with time_machine.travel(jst(2026, 6, 1, 10), tick=False), translation.override("en"):
        for title, day in ((LONG_TITLE, 10), ("Rotate keys", 11)):
            change = ChangeRequestFactory(
                title=title, planned_start=jst(2026, 6, day, 10), planned_end=jst(2026, 6, day, 12)
            )
            change.services.add(web)
            services.submit_change(change, actor=change.requester)
            services.decide_change(change, actor=manager, decision="approved")
    return manager


def test_month_view_fits_1280_px_with_long_titles_cut_and_becomes_a_list_at_768(
    page, login, june_changes
):
    login(june_changes)
    _english(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/changes/calendar/?year=2026&month=6")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # All seven columns, Monday to Sunday, are on screen and equally wide.
    headers = page.locator("[data-testid=change-calendar] thead th")
    assert headers.all_inner_texts() == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    boxes = [headers.nth(i).bounding_box() for i in range(7)]
    assert boxes[-1]["x"] + boxes[-1]["width"] <= 1280
    assert max(b["width"] for b in boxes) - min(b["width"] for b in boxes) < 2

    # The long title is cut inside its day; the whole of it is the tooltip and shows on focus.
    link = page.locator("td[data-day='2026-06-10'] [data-kind=change]")
    cell = box(page, "td[data-day='2026-06-10']")
    shown = link.bounding_box()
    assert shown["x"] + shown["width"] <= cell["x"] + cell["width"] + 1
    assert LONG_TITLE in link.get_attribute("title")
    cut = "el => el.scrollHeight > el.clientHeight + 1"
    assert link.evaluate(cut)
    link.focus()
    assert not link.evaluate(cut)

    # At 768 px: a list of the days that have something on them, one under the other.
    page.set_viewport_size({"width": 768, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    wednesday = box(page, "td[data-day='2026-06-10']")
    thursday = box(page, "td[data-day='2026-06-11']")
    assert wednesday["x"] == thursday["x"]
    assert thursday["y"] >= wednesday["y"] + wednesday["height"] - 1
    assert wednesday["width"] > 600
    assert not page.locator("td[data-day='2026-06-09']").is_visible()  # nothing planned
    assert box(page, "[data-testid=change-calendar] thead")["width"] <= 1  # for screen readers
    assert "2026-06-10 (Wed)" in page.locator("td[data-day='2026-06-10']").inner_text()
    assert LONG_TITLE in link.inner_text()


@pytest.fixture
def manager(make_user):
    """The widest bar: the dashboard and monitoring entries, a long name, two-digit unread count."""
    user = make_user(Role.OPS_MANAGER, username="manager", display_name="鈴木 一郎 (ops manager)")
    Notification.objects.bulk_create(
        Notification(recipient=user, key=f"test-{i}", title=f"Note {i}") for i in range(12)
    )
    return user


@pytest.mark.parametrize("language", ["ja", "en"])
def test_top_bar_fits_1280_px_and_folds_below(page, login, manager, language):
    login(manager)
    if language == "en":
        _english(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert not page.locator(".navbar-toggler").is_visible()
    entries = page.locator("[data-testid=main-menu] a")
    assert (
        entries.count() == 10
    )  # incidents, on-call, status … dashboard, monitoring, workflows, API
    for i in range(entries.count()):
        entry = entries.nth(i).bounding_box()
        assert entry["x"] + entry["width"] <= 1280
    bar = box(page, "[data-testid=topbar]")
    assert bar["height"] < 70  # one row

    # The language menu shows its language, the bell's count stays beside the bell, the user
    # menu is whole on screen.
    switch = page.locator("[data-testid=language-switch]")
    assert switch.bounding_box()["width"] >= 70
    assert switch.evaluate("s => s.options[s.selectedIndex].text") == (
        "日本語" if language == "ja" else "English"
    )
    bell = box(page, "[data-testid=notifications]")
    badge = box(page, "[data-testid=unread-count]")
    assert page.locator("[data-testid=unread-count]").inner_text() == "12"
    assert bell["height"] < 40
    assert bell["y"] <= badge["y"] and badge["y"] + badge["height"] <= bell["y"] + bell["height"]
    user_menu = box(page, "[data-testid=user-menu]")
    assert user_menu["x"] + user_menu["width"] <= 1280
    assert page.locator("[data-testid=user-menu]").get_attribute("title") == str(manager)

    # Below 1280 px the menu folds behind the toggler, and opens with it.
    page.set_viewport_size({"width": 1100, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1100
    assert page.locator(".navbar-toggler").is_visible()
    assert not entries.first.is_visible()
    page.locator(".navbar-toggler").click()
    page.locator("[data-testid=main-menu] a").last.wait_for(state="visible")
    assert switch.is_visible()
