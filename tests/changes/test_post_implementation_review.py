"""§9.2 緊急変更: an emergency change is approved at once and reviewed after the fact; until the
review is recorded it shows "review pending" (model, service, API, screens)."""

import pytest
import time_machine
from django.utils import translation

from changes import selectors, services
from changes.choices import Decision
from changes.models import ChangeRequest, RollbackCriterion, has_post_implementation_review
from itsm.core import workflow
from itsm.core.models import AuditEvent
from itsm.core.workflow import (
    GuardFailed,
    TransitionForbidden,
    TransitionInvalid,
    TransitionNotAllowed,
)

from .factories import ChangeRequestFactory, change_class, jst

pytestmark = pytest.mark.django_db

NOW = jst(2026, 6, 1, 10)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False), translation.override("en"):
        yield


def emergency(operator, manager, *, to="implementing") -> ChangeRequest:
    change = ChangeRequestFactory(
        requester=operator,
        change_class=change_class("emergency"),
        planned_start=jst(2026, 6, 1, 11),
        planned_end=jst(2026, 6, 1, 12),
    )
    services.submit_change(change, actor=operator)
    if to == "emergency_review":
        return change
    services.decide_change(change, actor=manager, decision=Decision.APPROVED)
    services.schedule_change(
        change,
        actor=operator,
        data={"planned_start": "2026-06-01 11:00", "planned_end": "2026-06-01 12:00"},
    )
    if to == "scheduled":
        return change
    return services.start_implementation(
        change, actor=manager, data={"backup_waived": True, "backup_waiver_reason": "hotfix"}
    )


def test_an_implemented_emergency_change_is_pending_review(operator, ops_manager):
    assert not emergency(
        operator, ops_manager, to="emergency_review"
    ).post_implementation_review_pending
    assert not emergency(operator, ops_manager, to="scheduled").post_implementation_review_pending
    change = emergency(operator, ops_manager)
    assert change.post_implementation_review_pending
    assert list(selectors.reviews_pending(ops_manager)) == [change]
    assert list(selectors.reviews_pending(operator)) == []  # the requester does not review


def test_the_pending_review_is_in_the_approvers_home_queue(operator, ops_manager):
    change = emergency(operator, ops_manager)
    items = selectors.my_open_items(ops_manager)
    assert [(i["number"], i["state_label"]) for i in items] == [(change.number, "Review pending")]
    services.record_post_implementation_review(change, actor=ops_manager, review="ok")
    assert selectors.my_open_items(ops_manager) == []


def test_a_normal_change_never_needs_the_review(operator):
    change = ChangeRequestFactory(requester=operator)
    ChangeRequest.objects.filter(pk=change.pk).update(implementation_started_at=NOW)
    change.refresh_from_db()
    assert not change.post_implementation_review_pending
    with pytest.raises(TransitionNotAllowed):
        services.record_post_implementation_review(change, actor=operator, review="x")


def test_the_approver_records_the_review_and_it_is_no_longer_pending(operator, ops_manager):
    change = emergency(operator, ops_manager)
    services.record_post_implementation_review(
        change, actor=ops_manager, review="Justified: checkout was down. Add a canary."
    )
    assert change.post_implementation_review == "Justified: checkout was down. Add a canary."
    assert change.post_implementation_reviewed_by == ops_manager
    assert change.post_implementation_reviewed_at == NOW
    assert not change.post_implementation_review_pending
    assert list(selectors.reviews_pending(ops_manager)) == []
    assert AuditEvent.objects.filter(action="post_implementation_review").count() == 1


def test_recording_again_amends_the_review_and_is_audited(operator, ops_manager):
    change = emergency(operator, ops_manager)
    services.record_post_implementation_review(change, actor=ops_manager, review="first")
    services.record_post_implementation_review(change, actor=ops_manager, review="second")
    assert change.post_implementation_review == "second"
    assert AuditEvent.objects.filter(action="post_implementation_review_amended").count() == 1


def test_the_review_may_be_recorded_after_closing(operator, ops_manager):
    change = emergency(operator, ops_manager)
    ChangeRequest.objects.filter(pk=change.pk).update(state="closed", outcome="successful")
    change.refresh_from_db()
    assert change.post_implementation_review_pending
    services.record_post_implementation_review(change, actor=ops_manager, review="ok")
    assert not change.post_implementation_review_pending


def test_not_before_implementation(operator, ops_manager):
    change = emergency(operator, ops_manager, to="scheduled")
    with pytest.raises(TransitionNotAllowed):
        services.record_post_implementation_review(change, actor=ops_manager, review="early")


def test_the_requester_and_other_roles_may_not_record_it(operator, ops_manager, ops_leader):
    change = emergency(operator, ops_manager)
    for someone in (operator, ops_leader):
        with pytest.raises(TransitionForbidden):
            services.record_post_implementation_review(change, actor=someone, review="fine")
    assert ChangeRequest.objects.get(pk=change.pk).post_implementation_review_pending


@pytest.mark.parametrize("review", ["", "   ", "x" * 10001])
def test_an_empty_or_huge_review_is_refused(operator, ops_manager, review):
    change = emergency(operator, ops_manager)
    with pytest.raises(TransitionInvalid) as exc:
        services.record_post_implementation_review(change, actor=ops_manager, review=review)
    assert "review" in exc.value.extra["errors"]


def test_closing_no_longer_takes_the_review_as_a_field(operator, ops_manager):
    from itsm.core import workflow

    change = workflow.perform(
        emergency(operator, ops_manager), "start_verification", actor=operator
    )
    form = workflow.transition_form(change, "close")
    assert "post_implementation_review" not in form.fields


# --- §9.2: no closing before the review ------------------------------------------------------


def all_clear() -> dict[str, bool]:
    return {c.code: False for c in RollbackCriterion.objects.filter(is_active=True)}


def verified(operator, manager) -> ChangeRequest:
    """An emergency change implemented and verified (passed): ready to close but for the review."""
    change = workflow.perform(emergency(operator, manager), "start_verification", actor=operator)
    services.verify_change(change, actor=operator, checks=all_clear())
    return change


CLOSE = {"result_report": "Certificate renewed", "documentation_updated": "on"}


def test_an_emergency_change_is_not_closed_before_its_review(operator, ops_manager):
    change = verified(operator, ops_manager)
    with pytest.raises(GuardFailed) as exc:
        services.close_change(change, actor=operator, data=CLOSE)
    assert exc.value.extra["guard"] == "has_post_implementation_review"
    assert "post-implementation review" in exc.value.message
    assert ChangeRequest.objects.get(pk=change.pk).state == "verifying"
    change = ChangeRequest.objects.get(pk=change.pk)
    services.record_post_implementation_review(change, actor=ops_manager, review="Justified.")
    services.close_change(change, actor=operator, data=CLOSE)
    assert (change.state, change.outcome) == ("closed", "successful")


def test_a_failed_emergency_change_is_not_closed_as_failed_before_its_review(operator, ops_manager):
    change = workflow.perform(
        emergency(operator, ops_manager), "start_verification", actor=operator
    )
    services.verify_change(change, actor=operator, checks=all_clear() | {"slo_degradation": True})
    services.roll_back_change(
        change, actor=operator, comment="5xx", data={"rollback_steps": "old certificate back"}
    )
    workflow.perform(change, "start_cause_analysis", actor=operator)
    close_failed = {"cause_findings": "wrong chain"}
    with pytest.raises(GuardFailed) as exc:
        workflow.perform(change, "close_failed", actor=ops_manager, data=close_failed)
    assert exc.value.extra["guard"] == "has_post_implementation_review"
    change = ChangeRequest.objects.get(pk=change.pk)
    services.record_post_implementation_review(change, actor=ops_manager, review="Lessons.")
    workflow.perform(change, "close_failed", actor=ops_manager, data=close_failed)
    assert (change.state, change.outcome) == ("closed", "failed")


def test_a_normal_change_closes_without_a_review(operator, ops_manager):
    change = ChangeRequestFactory(requester=operator, change_class=change_class("normal"))
    assert has_post_implementation_review(change)


# --- API ------------------------------------------------------------------------------------


def test_api_shows_pending_and_records_the_review(operator, ops_manager, api_as):
    change = emergency(operator, ops_manager)
    url = f"/api/v1/changes/{change.number}/"
    client = api_as(ops_manager)
    body = client.get(url).json()
    assert body["post_implementation_review_pending"] is True
    assert body["post_implementation_reviewed_by"] is None
    response = client.post(url + "post-implementation-review/", {"review": "Justified."})
    assert response.status_code == 200
    body = response.json()
    assert body["post_implementation_review"] == "Justified."
    assert body["post_implementation_review_pending"] is False
    assert body["post_implementation_reviewed_by"] == ops_manager.username
    assert body["post_implementation_reviewed_at"].startswith("2026-06-01T")


def test_api_bad_review_is_400_and_wrong_people_403(operator, ops_manager, api_as):
    change = emergency(operator, ops_manager)
    url = f"/api/v1/changes/{change.number}/post-implementation-review/"
    response = api_as(ops_manager).post(url, {"review": ""})
    assert response.status_code == 400
    assert "review" in response.json()["errors"]
    assert api_as(ops_manager).post(url, {}).status_code == 400
    assert api_as(operator).post(url, {"review": "mine"}).status_code == 403


def test_api_review_on_a_normal_change_is_409(operator, ops_manager, api_as):
    change = ChangeRequestFactory(requester=operator)
    url = f"/api/v1/changes/{change.number}/post-implementation-review/"
    assert api_as(ops_manager).post(url, {"review": "x"}).status_code == 409


def test_review_is_read_only_through_the_change_update(operator, ops_manager, api_as):
    change = ChangeRequestFactory(requester=operator)
    api_as(operator).patch(
        f"/api/v1/changes/{change.number}/", {"post_implementation_review": "sneaky"}
    )
    change.refresh_from_db()
    assert change.post_implementation_review == ""


def test_api_close_before_the_review_is_400_naming_the_guard(operator, ops_manager, api_as):
    change = verified(operator, ops_manager)
    url = f"/api/v1/changes/{change.number}/transitions/"
    listed = {t["name"]: t for t in api_as(operator).get(url).json()}
    assert listed["close"]["available"] is False
    response = api_as(operator).post(
        url, {"transition": "close", "result_report": "done"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["guard"] == "has_post_implementation_review"
    api_as(ops_manager).post(
        f"/api/v1/changes/{change.number}/post-implementation-review/", {"review": "ok"}
    )
    response = api_as(operator).post(
        url, {"transition": "close", "result_report": "done"}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "closed"


# --- screens --------------------------------------------------------------------------------


def test_detail_and_list_show_review_pending_and_the_manager_records_it(
    client, operator, ops_manager
):
    change = emergency(operator, ops_manager)
    client.force_login(operator)
    page = client.get(change.get_absolute_url()).content.decode()
    assert 'data-testid="review-pending"' in page
    assert 'data-testid="post-implementation-review"' in page
    assert f'action="/changes/{change.number}/review/"' not in page  # the requester may not
    assert 'data-testid="review-pending"' in client.get("/changes/").content.decode()

    client.force_login(ops_manager)
    assert (
        f'data-testid="review-{change.number}"'
        in client.get("/changes/approvals/").content.decode()
    )
    page = client.get(change.get_absolute_url()).content.decode()
    assert f'action="/changes/{change.number}/review/"' in page
    response = client.post(f"/changes/{change.number}/review/", {"review": "Justified."})
    assert response.status_code == 302
    page = client.get(change.get_absolute_url()).content.decode()
    assert 'data-testid="review-pending"' not in page
    assert "Justified." in page
    assert (
        f'data-testid="review-{change.number}"'
        not in client.get("/changes/approvals/").content.decode()
    )


def test_an_empty_review_on_the_screen_is_an_error_message(client, operator, ops_manager):
    change = emergency(operator, ops_manager)
    client.force_login(ops_manager)
    response = client.post(f"/changes/{change.number}/review/", {"review": ""}, follow=True)
    assert response.status_code == 200
    assert ChangeRequest.objects.get(pk=change.pk).post_implementation_review_pending
    assert 'class="alert' in response.content.decode()


def test_a_normal_change_has_no_review_section(client, operator):
    change = ChangeRequestFactory(requester=operator)
    client.force_login(operator)
    assert (
        'data-testid="post-implementation-review"'
        not in client.get(change.get_absolute_url()).content.decode()
    )


def test_the_detail_page_says_why_close_is_blocked(client, operator, ops_manager):
    change = verified(operator, ops_manager)
    client.force_login(operator)
    page = client.get(change.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-guard="has_post_implementation_review"' in page
    assert "The change cannot be closed until the review is recorded." in page
    services.record_post_implementation_review(change, actor=ops_manager, review="ok")
    page = client.get(change.get_absolute_url()).content.decode()
    assert 'data-guard="has_post_implementation_review"' not in page
