"""Real browser (Chromium): an operator files an incident, triages it with the live priority
preview, and starts the response — in the Japanese UI."""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from itsm.core.roles import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_operator_files_triages_and_starts_response(page, login, make_user):
    operator = make_user(Role.OPERATOR, username="yamada")
    login(operator)

    page.goto("/incidents/new/")
    page.fill("#id_title", "決済ページが真っ白になる")
    page.select_option("#id_source", "user_report")
    page.get_by_test_id("file-incident").click()

    expect(page).to_have_url(re.compile(r"/incidents/INC-\d{6}/triage/$"))
    preview = page.get_by_test_id("preview-priority")
    page.locator("label[for$='impact_scope_0']").click()
    page.locator("label[for$='business_impact_0']").click()
    page.locator("label[for$='urgency_0']").click()
    expect(preview).to_have_text("P1")
    expect(page.locator("#priority-preview")).to_contain_text("緊急対応")
    # the preview follows the choice: "planned" lowers P1 to P2
    page.locator("label[for$='urgency_1']").click()
    expect(preview).to_have_text("P2")
    page.locator("label[for$='urgency_0']").click()
    expect(preview).to_have_text("P1")
    page.get_by_test_id("triage-submit").click()

    incident = Incident.objects.get()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.number}/$"))
    expect(page.locator("h1 [data-priority]")).to_have_text("P1")
    expect(page.locator(".countdown")).to_be_visible()
    page.locator("form[data-transition='start_response'] button[type=submit]").click()
    expect(page.locator("h1 [data-state]")).to_have_attribute("data-state", "investigating")
    incident.refresh_from_db()
    assert incident.state == "investigating"
    assert incident.response_started_at is not None
    assert incident.assignee == operator
