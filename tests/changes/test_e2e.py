"""Real browser (Japanese UI): a requester files and submits a normal change, the ops manager
approves it on the approval screen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from changes.models import ChangeClass, ChangeRequest
from itsm.core.roles import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_requester_submits_and_manager_approves(page, login, make_user, browser, live_server):
    requester = make_user(Role.OPERATOR, username="requester")
    manager = make_user(Role.OPS_MANAGER, username="boss")
    start = timezone.localtime() + timedelta(days=14)

    login(requester)
    page.goto("/changes/new/")
    page.fill("#id_title", "Webサーバーの設定変更")
    page.select_option("#id_category", "system_configuration")
    page.select_option("#id_change_class", str(ChangeClass.objects.get(code="normal").pk))
    page.fill("#id_affected_users", "全ユーザー")
    page.select_option("#id_risk_level", "low")
    page.fill("#id_implementation_plan", "設定を反映して再起動")
    page.fill("#id_rollback_plan", "旧設定に戻す")
    page.fill("#id_planned_start", start.strftime("%Y-%m-%dT10:00"))
    page.fill("#id_planned_end", start.strftime("%Y-%m-%dT11:00"))
    page.locator("[data-testid=change-form] button[type=submit]").click()
    page.wait_for_load_state()
    change = ChangeRequest.objects.get()
    assert page.url.endswith(change.get_absolute_url())
    page.locator("form[data-transition=submit] button[type=submit]").click()
    page.wait_for_load_state()
    change.refresh_from_db()
    assert change.state == "in_review"
    assert "レビュー中" in page.content()

    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    manager_page = context.new_page()
    manager_page.goto("/accounts/login/")
    manager_page.fill("#id_username", manager.username)
    manager_page.fill("#id_password", "pass-1234!")
    manager_page.locator("form button[type=submit]").first.click()
    manager_page.wait_for_load_state()
    manager_page.goto("/changes/approvals/")
    card = manager_page.locator(f"[data-testid=pending-{change.number}]")
    assert "承認" in card.inner_text()
    card.locator("input[name=comment]").fill("問題なし")
    card.locator("button[value=approved]").click()
    manager_page.wait_for_load_state()
    change.refresh_from_db()
    assert change.state == "approved"
    assert change.approvals.get().approver == manager
    assert manager_page.locator(f"[data-testid=pending-{change.number}]").count() == 0
    context.close()
