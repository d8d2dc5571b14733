"""Real browser (Chromium), Japanese UI: the whole incident flow of issue 3 §10.

An operator files an incident, triages it from the triage queue (watching the live priority
preview), starts the response and the recovery and hands it to verification; a P1 is closed by
an ops leader with a resolution summary, which opens the mandatory postmortem; the leader fills
it (summary, a 5-whys row added in place, root cause, prevention measures, an action item) and
submits it for review.
"""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from itsm.core.roles import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def transition(page, name):
    return page.locator(f"form[data-transition='{name}']")


def expect_state(page, state):
    expect(page.locator("h1 [data-state]")).to_have_attribute("data-state", state)


def test_incident_from_report_to_postmortem_review_in_japanese(page, login, make_user):
    operator = make_user(Role.OPERATOR, username="yamada")
    leader = make_user(Role.OPS_LEADER, username="sato")
    login(operator)

    # 1. file (報告): an untriaged report
    page.goto("/incidents/new/")
    page.fill("#id_title", "決済ページが真っ白になる")
    page.select_option("#id_source", "user_report")
    page.get_by_test_id("file-incident").click()
    expect(page).to_have_url(re.compile(r"/incidents/INC-\d{6}/triage/$"))
    incident = Incident.objects.get()

    # 2. triage from the triage queue, with the live priority preview
    page.goto("/incidents/triage/")
    expect(page.get_by_role("heading", name="トリアージ待ち")).to_be_visible()
    row = page.locator(f"li[data-number='{incident.number}']")
    expect(row).to_contain_text("決済ページが真っ白になる")
    row.get_by_role("link", name="トリアージ").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.number}/triage/$"))
    preview = page.get_by_test_id("preview-priority")
    page.locator("label[for$='impact_scope_0']").click()
    page.locator("label[for$='business_impact_0']").click()
    page.locator("label[for$='urgency_0']").click()
    expect(preview).to_have_text("P1")
    expect(page.locator("#priority-preview")).to_contain_text("緊急対応")
    # the preview follows the choice: "planned" lowers P1 to P2, and back
    page.locator("label[for$='urgency_1']").click()
    expect(preview).to_have_text("P2")
    page.locator("label[for$='urgency_0']").click()
    expect(preview).to_have_text("P1")
    page.get_by_test_id("triage-submit").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.number}/$"))
    expect(page.locator("h1 [data-priority]")).to_have_text("P1")
    expect(page.get_by_test_id("sla-header").locator(".countdown")).to_be_visible()
    # the queue is empty now
    page.goto("/incidents/triage/")
    expect(page.locator(f"li[data-number='{incident.number}']")).to_have_count(0)
    page.goto(f"/incidents/{incident.number}/")

    # 3. respond → recover → verify (operator)
    transition(page, "start_response").get_by_role("button", name="対応開始").click()
    expect_state(page, "investigating")
    transition(page, "start_recovery").get_by_role("button", name="復旧作業開始").click()
    expect_state(page, "recovering")
    transition(page, "verify").get_by_role("button", name="復旧：動作確認へ").click()
    expect_state(page, "verifying")
    # a P1 is closed by an ops leader (§8.2): the operator is not offered the close
    expect(transition(page, "close")).to_have_count(0)

    # 4. close with a resolution summary (ops leader)
    page.context.clear_cookies()
    login(leader)
    page.goto(f"/incidents/{incident.number}/")
    close = transition(page, "close")
    close.locator("[name=resolution_summary]").fill("DB接続プールを再起動し、決済が通ることを確認")
    close.locator("button[type=submit]").click()
    expect_state(page, "closed")

    # 5. the mandatory postmortem (P1): fill it and submit it for review
    page.get_by_test_id("postmortem-link").click()
    expect(page).to_have_url(re.compile(r"/incidents/postmortems/PM-\d{6}/$"))
    page.fill("#id_summary", "決済ページが約40分間表示されなかった")
    page.fill("#id_root_cause", "接続プールの上限が本番の負荷に対して小さすぎた")
    page.fill("#id_prevention_measures", "接続数の監視アラートを追加し、上限を負荷試験で決める")
    whys = page.locator("#whys .why-row")
    expect(whys).to_have_count(1)
    whys.nth(0).locator("[name=why]").fill("なぜ決済ページが白くなったか")
    whys.nth(0).locator("[name=because]").fill("APIがDB接続を取得できずタイムアウトした")
    page.get_by_role("button", name="なぜを追加").click()  # added in place, no reload
    expect(whys).to_have_count(2)
    expect(whys.nth(1).locator("[name=why]")).to_be_focused()
    whys.nth(1).locator("[name=why]").fill("なぜ接続を取得できなかったか")
    whys.nth(1).locator("[name=because]").fill("プール上限が20のままだった")
    page.get_by_test_id("save-postmortem").click()
    expect(page.locator(".alert-success")).to_be_visible()
    expect(whys).to_have_count(2)
    expect(whys.nth(1).locator("[name=because]")).to_have_value("プール上限が20のままだった")

    actions = page.locator("#actions")
    actions.locator("#ai-title").fill("接続数アラートを監視に追加")
    actions.locator("#ai-owner").select_option(label=str(leader))
    actions.locator("#ai-due").fill("2030-04-30")
    actions.get_by_role("button", name="追加").click()
    expect(actions.locator("li", has_text="接続数アラートを監視に追加")).to_be_visible()

    transition(page, "submit_for_review").get_by_role("button", name="レビュー依頼").click()
    expect(page.locator("h1 [data-state]")).to_have_attribute("data-state", "in_review")

    incident.refresh_from_db()
    assert incident.state == "closed"
    assert incident.resolution_summary.startswith("DB接続プール")
    assert incident.response_started_at is not None
    assert incident.assignee == operator
    pm = incident.postmortem
    assert (pm.state, pm.mandatory, pm.kind) == ("in_review", True, "postmortem")
    assert [w.because for w in pm.whys.all()] == [
        "APIがDB接続を取得できずタイムアウトした",
        "プール上限が20のままだった",
    ]
    item = pm.action_items.get()
    assert (item.owner, str(item.due_date)) == (leader, "2030-04-30")
