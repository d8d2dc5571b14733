"""Real browser, Japanese UI: CAB members vote on a major change on the CAB screen (the approval
queue with its agenda) until the CAB decides, and the ops manager approves a normal change from
the same queue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from changes import services
from changes.models import ChangeRequest
from itsm.core.roles import Role

from .factories import ChangeRequestFactory, change_class

pytestmark = [pytest.mark.e2e]


def submitted(requester, code: str, title: str, days: int) -> ChangeRequest:
    start = (timezone.localtime() + timedelta(days=days)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    change = ChangeRequestFactory(
        requester=requester,
        title=title,
        change_class=change_class(code),
        planned_start=start,
        planned_end=start + timedelta(hours=2),
    )
    return services.submit_change(change, actor=requester)


def signed_in(browser, live_server, user):
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pass-1234!")
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    return context, page


def test_cab_votes_on_the_cab_screen_and_manager_approves_from_the_queue(
    page, login, make_user, browser, live_server
):
    requester = make_user(Role.OPERATOR, username="requester")
    cab1, cab2, _cab3 = (make_user(Role.CAB_MEMBER, username=f"cab{i}") for i in (1, 2, 3))
    manager = make_user(Role.OPS_MANAGER, username="boss")
    major = submitted(requester, "major", "基幹DBのメジャーバージョンアップ", days=21)
    normal = submitted(requester, "normal", "Webサーバーの設定変更", days=14)
    assert (major.state, normal.state) == ("cab_review", "in_review")

    # cab1 on the CAB screen: the major change awaits their vote; a rejection needs a reason.
    login(cab1)
    page.goto("/changes/approvals/")
    assert "自分の判断待ち" in page.content()
    card = page.locator(f"[data-testid=pending-{major.number}]")
    assert "基幹DB" in card.inner_text()
    assert page.locator(f"[data-testid=pending-{normal.number}]").count() == 0  # not a CAB item
    card.locator("button[value=reject]").click()
    page.wait_for_load_state()
    assert "却下には理由が必要です。" in page.content()
    assert ChangeRequest.objects.get(pk=major.pk).votes.count() == 0
    card = page.locator(f"[data-testid=pending-{major.number}]")
    card.locator("input[name=comment]").fill("ロールバック手順を確認済み")
    card.locator("button[value=approve]").click()
    page.wait_for_load_state()
    assert f"{major.number}への投票を記録しました。" in page.content()
    # Voted: no longer awaiting cab1; the agenda shows the vote so far per member.
    assert page.locator(f"[data-testid=pending-{major.number}]").count() == 0
    row = page.locator(f"[data-testid=agenda-{major.number}]")
    votes = row.locator(".badge")
    assert votes.count() == 1
    assert votes.inner_text() == "承認"
    assert votes.get_attribute("title") == "ロールバック手順を確認済み"
    assert ChangeRequest.objects.get(pk=major.pk).state == "cab_review"

    # cab2's approval makes the majority of three: the CAB decides and the agenda empties.
    context, cab_page = signed_in(browser, live_server, cab2)
    cab_page.goto("/changes/approvals/")
    cab_card = cab_page.locator(f"[data-testid=pending-{major.number}]")
    cab_card.locator("input[name=comment]").fill("問題なし")
    cab_card.locator("button[value=approve]").click()
    cab_page.wait_for_load_state()
    major.refresh_from_db()
    assert major.state == "approved"
    assert major.approvals.get().kind == "cab"
    assert "CAB審査中の変更はありません。" in cab_page.content()
    context.close()

    # The manager approves the normal change in place from the approval queue.
    context, boss = signed_in(browser, live_server, manager)
    boss.goto("/changes/approvals/")
    assert boss.locator(f"[data-testid=pending-{major.number}]").count() == 0
    card = boss.locator(f"[data-testid=pending-{normal.number}]")
    assert "Webサーバーの設定変更" in card.inner_text()
    card.locator("input[name=comment]").fill("影響評価を確認しました")
    card.locator("button[value=approved]").click()
    boss.wait_for_load_state()
    normal.refresh_from_db()
    assert normal.state == "approved"
    approval = normal.approvals.get()
    assert (approval.approver, approval.comment) == (manager, "影響評価を確認しました")
    assert f"{normal.number}：承認済。" in boss.content()
    assert boss.locator(f"[data-testid=pending-{normal.number}]").count() == 0
    context.close()
