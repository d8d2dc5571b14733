"""The CAB screens say the rule, the running tally and the outcome with its reason (issue 14,
part 8): a newcomer voting last sees what the CAB decided and why, not just "vote recorded"."""

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client

from changes import services
from itsm.core.roles import Role

from .factories import ChangeRequestFactory, change_class, jst

pytestmark = pytest.mark.django_db

RULE_EN = (
    "A majority of the active CAB members must approve: 2 of 3. No rejection may stand: one "
    "rejection vetoes the change unless its voter changes it before the last vote."
)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(jst(2026, 6, 1, 10), tick=False):
        yield


@pytest.fixture
def members(make_user):
    return [make_user(Role.CAB_MEMBER, username=f"cab{i}", language="en") for i in (1, 2, 3)]


@pytest.fixture
def major(operator):
    return services.submit_change(
        ChangeRequestFactory(
            requester=operator,
            change_class=change_class("major"),
            planned_start=jst(2026, 6, 9, 10),
            planned_end=jst(2026, 6, 9, 11),
        ),
        actor=operator,
    )


def _vote(member, change, vote, comment=""):
    client = Client()
    client.force_login(member)
    response = client.post(
        f"/changes/{change.number}/vote/",
        {"vote": vote, "comment": comment, "next": f"/changes/{change.number}/"},
    )
    assert response.status_code == 302
    return client, [str(m) for m in get_messages(response.wsgi_request)]


def _text(html: str, testid: str) -> str:
    import re

    chunk = html.split(f'data-testid="{testid}"', 1)[1].split(">", 1)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", chunk.split("</p>", 1)[0])).strip()


def test_two_approvals_and_one_rejection_is_a_veto_and_the_screens_say_so(members, major):
    _, first = _vote(members[0], major, "reject", "no rollback rehearsal")
    assert first == [
        f"Your vote on {major.number} is recorded. Approve 0 / reject 1 / waiting 2 of 3 "
        "members. A rejection stands: unless it is withdrawn, the change will be rejected."
    ]
    client, second = _vote(members[1], major, "approve")
    # the running tally, the rule and who voted what, on the change page and the queue
    page = client.get(f"/changes/{major.number}/").content.decode()
    assert _text(page, "cab-rule") == f"CAB rule: {RULE_EN}"
    assert _text(page, "cab-count") == "Approve 1 / reject 1 / waiting 1 of 3 members."
    assert 'data-member="cab3"' in page
    queue = Client()
    queue.force_login(members[2])
    approvals = queue.get("/changes/approvals/").content.decode()
    assert _text(approvals, f"cab-tally-{major.number}").startswith("CAB rule:")
    assert "Approve 1 / reject 1 / waiting 1 of 3 members." in approvals
    assert "A rejection stands" in approvals
    # the last voter is told the outcome and why
    _, last = _vote(members[2], major, "approve")
    assert last == [
        f"Your vote on {major.number} is recorded. "
        "Rejected: one rejection vetoes the change (2 of 3 approved)."
    ]
    major.refresh_from_db()
    assert major.state == "rejected"
    page = client.get(f"/changes/{major.number}/").content.decode()
    assert _text(page, "cab-outcome") == (
        "Rejected: one rejection vetoes the change (2 of 3 approved)."
    )
    approvals = queue.get("/changes/approvals/").content.decode()
    decided = approvals.split(f'data-testid="decided-{major.number}"', 1)[1].split("</li>")[0]
    assert "Rejected: one rejection vetoes the change (2 of 3 approved)." in decided
    assert f"agenda-{major.number}" not in approvals


def test_two_approvals_of_three_approve_without_waiting_for_the_third(members, major):
    _vote(members[0], major, "approve")
    client, last = _vote(members[1], major, "approve")
    assert last == [
        f"Your vote on {major.number} is recorded. Approved: 2 of 3 approved, no rejection."
    ]
    page = client.get(f"/changes/{major.number}/").content.decode()
    assert _text(page, "cab-outcome") == "Approved: 2 of 3 approved, no rejection."
    assert _text(page, "cab-count") == "Approve 2 / reject 0 / waiting 1 of 3 members."


def test_the_texts_in_japanese(members, major):
    for member in members:
        member.language = "ja"
        member.save()
    _vote(members[0], major, "reject", "no rollback rehearsal")
    client, _ = _vote(members[1], major, "approve")
    page = client.get(f"/changes/{major.number}/").content.decode()
    assert _text(page, "cab-rule") == (
        "CAB ルール: 有効な CAB メンバーの過半数（3 人中 2 人）の承認が必要です。"
        "却下が 1 件でも残っていれば変更は却下されます（最後の投票までに投票者が変更した場合を除く）。"
    )
    _, last = _vote(members[2], major, "approve")
    assert last == [
        f"{major.number}への投票を記録しました。"
        "却下: 1 件の却下により変更は否決されました（3 人中 2 人が承認）。"
    ]


def test_rule_follows_the_configured_class(members, major):
    major_class = change_class("major")
    major_class.cab_approval_percent = 100
    major_class.cab_rejection_blocks = False
    major_class.save()
    from django.utils import translation

    from changes.models import ChangeRequest

    with translation.override("en"):
        text = services.cab_tally(ChangeRequest.objects.get(pk=major.pk)).rule_text
    assert text == (
        "All 3 active CAB members must approve. "
        "Rejections do not block once enough members approve."
    )
