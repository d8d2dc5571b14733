"""Real browser (Chromium, Japanese UI): link two incidents from the links panel (the number
suggested while typing), merge the duplicate into the original, put the original on hold and
read its SLA explanation (issue 18 §4)."""

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import Incident
from itsm.core.roles import Role

pytestmark = [pytest.mark.e2e]


def test_link_merge_hold_and_read_the_sla_explanation(page, login, make_user):
    operator = make_user(Role.OPERATOR, username="yamada")
    original = services.open_incident(
        title="Cart API error rate up", source="monitoring", priority="P2"
    )
    duplicate = services.open_incident(
        title="Cart shows error 500", source="user_report", priority="P3"
    )
    login(operator)
    page.goto(duplicate.get_absolute_url())
    form = page.get_by_test_id("link-form")
    form.locator("[name=kind]").select_option("duplicate_of")
    form.locator("[name=target]").fill("Cart API")
    # The suggestions come from the server as the number is typed (htmx → datalist).
    expect(page.locator("#link-candidates option")).to_have_count(1)
    assert page.locator("#link-candidates option").get_attribute("value") == original.number
    form.locator("[name=target]").fill(original.number)
    form.get_by_role("button").click()
    expect(page.get_by_test_id("links")).to_contain_text(original.number)

    page.get_by_test_id("merge").click()
    page.wait_for_url(f"**{original.get_absolute_url()}**")
    expect(page.get_by_test_id("links")).to_contain_text(duplicate.number)
    duplicate.refresh_from_db()
    assert duplicate.state == Incident.State.CLOSED
    assert original.number in duplicate.resolution_summary

    # On hold: the resolution clock pauses and the explanation says why.
    hold = page.get_by_test_id("hold-form")
    hold.locator("[name=reason]").select_option("waiting_for_vendor")
    hold.locator("[name=comment]").fill("Waiting for the payment provider")
    hold.get_by_role("button").click()
    expect(page.get_by_test_id("sla-hold")).to_contain_text("ベンダー回答待ち")
    expect(page.get_by_test_id("sla-intervals").locator("tr[data-reason=on_hold]")).to_have_count(1)
    page.get_by_test_id("resume-form").get_by_role("button").click()
    expect(page.get_by_test_id("hold-form")).to_be_visible()
    expect(page.get_by_test_id("sla-intervals")).to_contain_text("ベンダー回答待ち")
