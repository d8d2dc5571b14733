"""Real browser (Chromium, Japanese UI): the browser flow of a P1 (issue 17). The commander takes
command and posts a public and an internal stakeholder update and sets the status page; a
subscriber receives both in the portal; the public status page, logged out, shows the public
update and the service's status, and nothing internal (no number, no internal title, no name,
no internal update)."""

import re

import pytest
from playwright.sync_api import expect

from comms import services as comms_services
from comms.models import StakeholderUpdate, StatusPageService
from incidents import services
from itsm.core.models import Notification
from itsm.core.roles import Role

from ..factories import ServiceFactory

pytestmark = [pytest.mark.e2e]

INTERNAL_TITLE = "決済DBプライマリ障害 payments-db-01"
PUBLIC_TITLE = "Checkout is slow"
COMMANDER_NAME = "Tanaka Ichiro"
PUBLIC_TOKEN = "PUB-7Q4K"
SECRET_TOKEN = "SECRET-ZX81"


def test_p1_commander_updates_reach_subscriber_and_public_page(
    page, login, make_user, browser, live_server
):
    svc = ServiceFactory(name="EC backend", slug="ec-backend")
    StatusPageService.objects.create(service=svc, public=True, public_name="Online shop")
    leader = make_user(Role.OPS_LEADER, username="tanaka", display_name=COMMANDER_NAME)
    subscriber = make_user(Role.OPERATOR, username="suzuki")
    incident = services.open_incident(
        title=INTERNAL_TITLE, source="monitoring", service=svc, priority="P1"
    )
    assert incident.priority == "P1" and incident.triaged_at is not None
    comms_services.subscribe(actor=leader, incident=incident, user=subscriber)

    # The commander, in the browser.
    login(leader)
    page.goto(incident.get_absolute_url())
    panel = page.get_by_test_id("comms-panel")
    expect(panel.get_by_test_id("commander")).to_have_text("—")
    panel.get_by_test_id("take-command").click()
    expect(page.get_by_test_id("commander")).to_have_text(COMMANDER_NAME)
    expect(page.get_by_test_id("take-command")).to_have_count(0)

    form = page.get_by_test_id("update-form")
    form.locator("[name=audience]").select_option("public")
    form.locator("[name=message_ja]").fill(f"決済が遅くなっています。調査中です。{PUBLIC_TOKEN}")
    form.locator("[name=message_en]").fill(
        f"Checkout is slow; we are investigating. {PUBLIC_TOKEN}"
    )
    form.get_by_test_id("post-update").click()
    updates = page.get_by_test_id("stakeholder-updates")
    expect(updates.locator("li[data-audience=public]")).to_contain_text(PUBLIC_TOKEN)

    form = page.get_by_test_id("update-form")
    form.locator("[name=status]").select_option("identified")
    form.locator("[name=audience]").select_option("internal")
    form.locator("[name=message_ja]").fill(
        f"原因は payments-db-01 のフェイルオーバー。{SECRET_TOKEN}"
    )
    form.locator("[name=message_en]").fill(f"Cause: payments-db-01 failover. {SECRET_TOKEN}")
    form.get_by_test_id("post-update").click()
    expect(updates.locator("li[data-audience=internal]")).to_contain_text(SECRET_TOKEN)
    expect(page.get_by_test_id("update-due")).to_be_visible()

    status_form = page.get_by_test_id("public-status-form")
    status_form.locator("[name=service_status]").select_option("degraded")
    status_form.locator("[name=public_title]").fill(PUBLIC_TITLE)
    status_form.get_by_role("button").click()
    expect(page.get_by_test_id("public-status")).to_be_visible()
    expect(page.get_by_test_id("comms-panel")).to_contain_text(PUBLIC_TITLE)

    # The subscriber receives both (the delivery task, run here instead of a worker).
    posted = {u.audience: u for u in StakeholderUpdate.objects.filter(incident=incident)}
    assert set(posted) == {"public", "internal"}
    for update in posted.values():
        assert comms_services.deliver_update(update.pk) >= 1
    for update in posted.values():
        assert Notification.objects.filter(
            recipient=subscriber, channel="in_app", key=f"comms.update:{update.pk}"
        ).exists()

    page.context.clear_cookies()
    login(subscriber)
    expect(page.get_by_test_id("unread-count")).to_be_visible()
    page.get_by_test_id("notifications").click()
    expect(page).to_have_url(re.compile(r"/notifications/"))
    inbox = page.get_by_test_id("notification-list")
    expect(inbox).to_contain_text(PUBLIC_TOKEN)
    expect(inbox).to_contain_text(SECRET_TOKEN)  # staff see the internal update too
    expect(inbox).to_contain_text(incident.number)

    # Logged out, in a fresh browser context: the public status page.
    anonymous = browser.new_context(locale="ja-JP", base_url=live_server.url)
    try:
        public = anonymous.new_page()
        public.set_default_timeout(15_000)
        public.goto("/status/public/")
        row = public.locator("li[data-service]", has_text="Online shop")
        expect(row).to_have_attribute("data-status", "degraded")
        expect(public.get_by_test_id("overall-status")).to_be_visible()
        incident_card = public.get_by_test_id("public-incident")
        expect(incident_card).to_have_count(1)
        expect(incident_card).to_contain_text(PUBLIC_TITLE)
        expect(incident_card.get_by_test_id("public-update")).to_contain_text(PUBLIC_TOKEN)
        expect(public.get_by_test_id("public-update")).to_have_count(1)
        content = public.content()
        for hidden in (
            SECRET_TOKEN,
            "payments-db-01",
            incident.number,
            INTERNAL_TITLE,
            COMMANDER_NAME,
            leader.username,
            "EC backend",
        ):
            assert hidden not in content, hidden
        assert not re.search(r"INC-\d", content)

        public.goto("/status/public/?lang=en")
        expect(public.get_by_test_id("public-update")).to_contain_text(
            "Checkout is slow; we are investigating."
        )
        assert SECRET_TOKEN not in public.content()
    finally:
        anonymous.close()
