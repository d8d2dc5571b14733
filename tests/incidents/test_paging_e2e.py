"""Real browser (Chromium, Japanese UI): the on-call person is paged about a P1 and acknowledges
it from the bell; another page is acknowledged through the email's signed link while logged out
(issue 16 §4, §8)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import Page
from itsm.core.models import Notification

from .factories import on_call_crew

pytestmark = [pytest.mark.e2e]

MAJOR = {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"}


def test_the_on_call_person_acknowledges_from_the_bell(page, login, make_user):
    crew = on_call_crew(make_user, start=timezone.localdate() - timedelta(days=1))
    incident = services.open_incident(title="決済が全件失敗", source="monitoring", **MAJOR)
    assert list(
        Page.objects.filter(incident=incident, level=1).values_list("user__username", flat=True)
    ) == ["a"]
    login(crew["b"])  # not on call: not paged
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    page.context.clear_cookies()

    login(crew["a"])
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    page.get_by_test_id("notifications").click()
    page.get_by_test_id("notification-list").get_by_test_id("notification-ack").first.click()
    expect(page.get_by_role("alert").first).to_contain_text(incident.number)
    page.goto(incident.get_absolute_url())
    expect(page.get_by_test_id("page-acknowledged").first).to_be_visible()
    expect(page.get_by_test_id("acknowledge-button")).to_have_count(0)
    acknowledged = Page.objects.get(incident=incident, level=1)
    assert (acknowledged.acknowledged_by, acknowledged.acknowledged_via) == (
        crew["a"],
        "notification",
    )


def test_the_email_link_acknowledges_without_logging_in(page, make_user):
    crew = on_call_crew(make_user, start=timezone.localdate() - timedelta(days=1))
    incident = services.open_incident(title="会員ログイン不可", source="monitoring", **MAJOR)
    link = Notification.objects.get(
        recipient=crew["a"], channel="in_app", key=f"{incident.number}:report:L1"
    ).params["ack_url"]
    page.goto(link)
    expect(page.get_by_text(incident.number)).to_be_visible()
    page.get_by_role("button").filter(has_text=re.compile("I have it|対応します")).click()
    expect(page.get_by_role("status")).to_contain_text("a")
    page.goto(link)
    expect(page.get_by_role("alert")).to_be_visible()
    acknowledged = Page.objects.get(incident=incident, level=1)
    assert acknowledged.acknowledged_via == "email_link" and acknowledged.link_used_at
