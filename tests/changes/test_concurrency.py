"""Concurrency on PostgreSQL (issue 6 part 7): real threads, each with its own connection,
racing on the same change. Run with DATABASE_URL=postgres://… (skipped otherwise).

- two managers decide the same change at once → exactly one decision; the other gets the
  conflict (409 through the API);
- 20 CAB members vote in parallel → every vote counted once, the CAB decision applied once;
- two clicks at once on a failed change → one incident.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from changes import services
from changes.choices import Decision
from changes.models import Approval, CabVote, ChangeClass, ChangeRequest, IncidentLink
from incidents.models import Incident
from itsm.core.models import AuditEvent
from itsm.core.roles import Role
from itsm.core.workflow import ConcurrentUpdate, TransitionNotAllowed

from .factories import ChangeRequestFactory, change_class

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def in_parallel(calls, *, timeout: float = 60.0) -> list[tuple[str, object]]:
    """Run every call in its own thread (own database connection), released together by a
    barrier; ``[("ok", result) | ("error", exception)]`` in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=timeout)
            results[i] = ("ok", call())
        except Exception as exc:  # noqa: BLE001 — the outcome is what the test checks
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def window(days: int = 30) -> dict:
    start = (timezone.localtime() + timedelta(days=days)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    return {"planned_start": start, "planned_end": start + timedelta(hours=2)}


def transitions_to(change, state: str) -> int:
    return AuditEvent.objects.filter(object_id=str(change.pk), to_state=state).count()


@pytest.fixture
def in_review(make_user):
    requester = make_user(Role.OPERATOR, username="requester")
    change = ChangeRequestFactory(requester=requester, **window())
    services.submit_change(change, actor=requester)
    assert change.state == "in_review"
    return change


# --- two managers, one decision -----------------------------------------------------------


def test_two_managers_deciding_at_once_make_exactly_one_decision(in_review, make_user):
    managers = [make_user(Role.OPS_MANAGER, username=f"manager{i}") for i in (1, 2)]
    # Each manager has the change open (loaded in_review) before either decides.
    copies = [ChangeRequest.objects.get(pk=in_review.pk) for _ in managers]
    outcomes = in_parallel(
        [
            lambda: services.decide_change(
                copies[0], actor=managers[0], decision=Decision.APPROVED, comment="ok"
            ),
            lambda: services.decide_change(
                copies[1], actor=managers[1], decision=Decision.REJECTED, comment="too risky"
            ),
        ]
    )
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    (error,) = [value for kind, value in outcomes if kind == "error"]
    assert isinstance(error, ConcurrentUpdate)
    assert error.status == 409
    change = ChangeRequest.objects.get(pk=in_review.pk)
    (approval,) = Approval.objects.filter(change=change)
    winner = 0 if outcomes[0][0] == "ok" else 1
    assert approval.approver == managers[winner]
    assert change.state == ("approved", "rejected")[winner]
    assert transitions_to(change, "approved") + transitions_to(change, "rejected") == 1


def test_two_managers_through_the_api_one_gets_409(in_review, make_user, api_as, monkeypatch):
    managers = [make_user(Role.OPS_MANAGER, username=f"manager{i}") for i in (1, 2)]
    clients = [api_as(m) for m in managers]
    # Hold both requests after they loaded the change and passed the checks, then let them go.
    gate = threading.Barrier(2)
    decide = services.decide_change

    def decide_together(change, **kwargs):
        gate.wait(timeout=30)
        return decide(change, **kwargs)

    monkeypatch.setattr(services, "decide_change", decide_together)
    url = f"/api/v1/changes/{in_review.number}/transitions/"
    outcomes = in_parallel(
        [
            lambda: clients[0].post(url, {"transition": "approve", "comment": "ok"}),
            lambda: clients[1].post(url, {"transition": "reject", "comment": "no"}),
        ]
    )
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    codes = sorted(response.status_code for _, response in outcomes)
    assert codes == [200, 409], [r.content for _, r in outcomes]
    (conflict,) = [r for _, r in outcomes if r.status_code == 409]
    assert conflict.json()["code"] == "concurrent_update"
    assert Approval.objects.filter(change=in_review).count() == 1
    state = ChangeRequest.objects.get(pk=in_review.pk).state
    assert state in ("approved", "rejected")
    assert transitions_to(in_review, state) == 1


# --- 20 CAB members, every vote counted once ------------------------------------------------


@pytest.fixture
def major(make_user):
    requester = make_user(Role.OPERATOR, username="requester")
    change = ChangeRequestFactory(
        requester=requester, change_class=change_class("major"), **window(days=30)
    )
    services.submit_change(change, actor=requester)
    assert change.state == "cab_review"
    return change


@pytest.fixture
def board(make_user):
    return [make_user(Role.CAB_MEMBER, username=f"cab{i:02d}") for i in range(1, 21)]


def test_twenty_cab_votes_in_parallel_are_each_counted_once(major, board, api_as):
    """Unanimity required, so the CAB can only decide on the last of the 20 votes: every vote
    must be counted (no lost update) and the decision applied exactly once."""
    ChangeClass.objects.filter(code="major").update(cab_approval_percent=100)
    clients = [api_as(member) for member in board]
    url = f"/api/v1/changes/{major.number}/votes/"
    outcomes = in_parallel(
        [lambda c=c: c.post(url, {"vote": "approve", "comment": "fine"}) for c in clients]
    )
    codes = [response.status_code for _, response in outcomes]
    assert codes == [201] * 20, [r.content for _, r in outcomes if r.status_code != 201]
    assert CabVote.objects.filter(change=major).count() == 20
    assert AuditEvent.objects.filter(object_id=str(major.pk), action="cab_vote").count() == 20
    change = ChangeRequest.objects.get(pk=major.pk)
    assert change.state == "approved"
    (decision,) = Approval.objects.filter(change=change)
    assert (decision.kind, decision.decision) == ("cab", "approved")
    # "Approved: 20 of 20 approved, no rejection.", in the language of the deciding request
    assert sorted(re.findall(r"\d+", decision.comment)) == ["20", "20"]
    assert transitions_to(change, "approved") == 1


def test_racing_votes_past_the_majority_decide_once(major, board):
    """Default rule (majority of 20 → 11 approvals): once the 11th approval decides, the late
    votes are refused as not awaiting a decision — never a second decision."""
    members = [ChangeRequest.objects.get(pk=major.pk) for _ in board]
    outcomes = in_parallel(
        [
            lambda m=m, c=c: services.cast_cab_vote(c, member=m, vote="approve")
            for m, c in zip(board, members, strict=True)
        ]
    )
    accepted = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "error"]
    assert len(accepted) == 11
    assert len(refused) == 9
    assert all(isinstance(exc, TransitionNotAllowed) for exc in refused)
    assert CabVote.objects.filter(change=major).count() == 11
    assert Approval.objects.filter(change=major).count() == 1
    assert transitions_to(major, "approved") == 1


# --- two clicks on a failed change, one incident --------------------------------------------


def test_two_clicks_at_once_open_one_incident(make_user):
    operator = make_user(Role.OPERATOR, username="implementer")
    change = ChangeRequestFactory(requester=operator, **window())
    ChangeRequest.objects.filter(pk=change.pk).update(state="rolled_back", outcome="failed")
    copies = [ChangeRequest.objects.get(pk=change.pk) for _ in range(2)]
    outcomes = in_parallel(
        [lambda c=c: services.open_incident_for_failed_change(c, actor=operator) for c in copies]
    )
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    results = [value for _, value in outcomes]
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert Incident.objects.count() == 1
    assert IncidentLink.objects.count() == 1
