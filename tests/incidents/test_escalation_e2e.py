"""Real browser (Chromium): a leader sees a P1 climb the ladder, an ops manager escalates it by
hand to a chosen level, and the escalated person finds it under the bell (Japanese UI)."""

import re

import pytest
from playwright.sync_api import expect

from incidents import escalation, services
from itsm.core.models import Team
from itsm.core.roles import Role

pytestmark = [pytest.mark.e2e]


def test_manager_escalates_and_the_developer_sees_it_under_the_bell(page, login, make_user):
    manager = make_user(Role.OPS_MANAGER, username="suzuki")
    developer = make_user(Role.DEVELOPER, username="takahashi")
    Team.objects.create(name="Dev", slug="dev", escalation_level=4).members.add(developer)
    incident = services.open_incident(
        title="決済が全件失敗",
        source="monitoring",
        impact_scope="all_users",
        business_impact="revenue_loss",
        urgency="immediate",
    )
    login(manager)
    page.goto(incident.get_absolute_url())
    panel = page.get_by_test_id("escalation-panel")
    expect(panel.get_by_test_id("escalation-level")).to_contain_text("L1")
    expect(panel.get_by_test_id("next-escalation")).to_be_visible()
    page.select_option("#id_escalate_reason", "technical_decision")
    page.select_option("#id_escalate_level", "4")
    page.fill("#id_escalate_comment", "DBのロック競合、開発の判断が必要")
    page.get_by_test_id("escalate-button").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.number}/#escalation$"))
    expect(panel.get_by_test_id("escalation-level")).to_contain_text("L4")
    expect(panel.get_by_test_id("escalation-steps")).to_contain_text("DBのロック競合")
    expect(page.locator("#timeline, body").first).to_contain_text("L4")

    page.context.clear_cookies()
    login(developer)
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    page.get_by_test_id("notifications").click()
    page.get_by_test_id("notification-list").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.number}/$"))
    incident.refresh_from_db()
    assert incident.escalation_level == 4
    assert escalation.upcoming(incident) is None  # L4 is the top of the chain
