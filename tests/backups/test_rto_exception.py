"""§11.3 RTO: a restore test slower than its policy's RTO passes only with an audited exception."""

import pytest
from django.urls import reverse
from django.utils import translation

from backups import services
from backups.models import RestoreTest
from itsm.core import workflow
from itsm.core.models import AuditEvent

from .factories import BackupPolicyFactory, RestoreTestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def slow_test():
    """A planned restore test of a policy with a 60-minute RTO."""
    return RestoreTestFactory(policy=BackupPolicyFactory(name="Orders DB", rto_minutes=60))


def _events(test, action):
    return AuditEvent.objects.filter(action=action, object_id=str(test.pk))


def test_a_restore_slower_than_the_rto_cannot_pass_without_an_exception(slow_test, ops_manager):
    with pytest.raises(workflow.GuardFailed) as exc:
        services.record_restore_test(slow_test, passed=True, restore_minutes=90, actor=ops_manager)
    assert exc.value.extra["guard"] == "within_rto_or_excepted"
    slow_test.refresh_from_db()
    assert slow_test.state == RestoreTest.State.PLANNED
    assert not slow_test.policy.restore_tests.exclude(pk=slow_test.pk).exists()


def test_a_restore_within_the_rto_passes_and_records_no_exception(slow_test, operator):
    services.record_restore_test(
        slow_test,
        passed=True,
        restore_minutes=60,
        actor=operator,
    )
    slow_test.refresh_from_db()
    assert slow_test.state == RestoreTest.State.PASSED
    assert not slow_test.has_rto_exception and slow_test.rto_exception_by is None


def test_an_ops_manager_may_pass_it_with_a_reason_and_the_exception_is_audited(
    slow_test, ops_manager
):
    services.record_restore_test(
        slow_test,
        passed=True,
        restore_minutes=90,
        actor=ops_manager,
        rto_exception_reason="Staging storage is half as fast as production.",
    )
    slow_test.refresh_from_db()
    assert slow_test.state == RestoreTest.State.PASSED
    assert slow_test.rto_exception_by == ops_manager and slow_test.rto_exception_at is not None
    assert slow_test.rto_exception_reason == "Staging storage is half as fast as production."
    (event,) = _events(slow_test, "rto_exception_granted")
    assert event.actor == ops_manager and event.comment == slow_test.rto_exception_reason
    assert event.data == {"restore_minutes": 90, "rto_minutes": 60}
    # The next quarterly test is planned as for any pass.
    assert slow_test.policy.restore_tests.filter(state=RestoreTest.State.PLANNED).count() == 1


def test_the_policy_owner_may_grant_the_exception(slow_test, operator):
    slow_test.policy.owner = operator
    slow_test.policy.save()
    services.record_restore_test(
        slow_test,
        passed=True,
        restore_minutes=75,
        actor=operator,
        rto_exception_reason="Accepted until the new array arrives.",
    )
    slow_test.refresh_from_db()
    assert slow_test.state == RestoreTest.State.PASSED and slow_test.rto_exception_by == operator


@pytest.mark.parametrize("role", ["operator", "ops_leader"])
def test_nobody_else_may_grant_it(slow_test, make_user, role):
    with pytest.raises(workflow.TransitionForbidden):
        services.record_restore_test(
            slow_test,
            passed=True,
            restore_minutes=90,
            actor=make_user(role),
            rto_exception_reason="looks fine to me",
        )
    slow_test.refresh_from_db()
    assert slow_test.state == RestoreTest.State.PLANNED and not _events(
        slow_test, "rto_exception_granted"
    )


def test_a_blank_reason_is_no_exception(slow_test, ops_manager):
    with pytest.raises(workflow.GuardFailed):
        services.record_restore_test(
            slow_test,
            passed=True,
            restore_minutes=90,
            actor=ops_manager,
            rto_exception_reason="   ",
        )


def test_failing_a_slow_restore_needs_no_exception(slow_test, operator):
    services.record_restore_test(
        slow_test, passed=False, restore_minutes=90, actor=operator, comment="too slow"
    )
    slow_test.refresh_from_db()
    assert slow_test.state == RestoreTest.State.FAILED


# --- API --------------------------------------------------------------------------------------


def _url(test):
    return f"/api/v1/restore-tests/{test.number}/transitions/"


def test_api_refuses_a_slow_pass_naming_the_guard(slow_test, api_as, operator):
    r = api_as(operator).post(
        _url(slow_test), {"transition": "pass_test", "restore_minutes": 90}, format="json"
    )
    assert r.status_code == 400, r.json()
    assert r.json()["code"] == "guard_failed"
    assert r.json()["guard"] == "within_rto_or_excepted"
    listed = api_as(operator).get(_url(slow_test)).json()
    assert "rto_exception_reason" in next(o for o in listed if o["name"] == "pass_test")["fields"]


def test_api_operator_offering_an_exception_gets_403(slow_test, api_as, operator):
    r = api_as(operator).post(
        _url(slow_test),
        {"transition": "pass_test", "restore_minutes": 90, "rto_exception_reason": "ok"},
        format="json",
    )
    assert r.status_code == 403, r.json()
    assert RestoreTest.objects.get(pk=slow_test.pk).state == RestoreTest.State.PLANNED


def test_api_ops_manager_passes_with_an_exception(slow_test, api_as, ops_manager):
    r = api_as(ops_manager).post(
        _url(slow_test),
        {
            "transition": "pass_test",
            "restore_minutes": 90,
            "rto_exception_reason": "Network throttled during the test window.",
        },
        format="json",
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["state"] == "passed" and body["within_rto"] is False
    assert body["rto_exception_by"] == ops_manager.username
    assert body["rto_exception_reason"] == "Network throttled during the test window."
    assert body["rto_exception_at"]


def test_api_cannot_write_the_exception_directly(slow_test, api_as, ops_manager):
    r = api_as(ops_manager).patch(
        f"/api/v1/restore-tests/{slow_test.number}/",
        {"rto_exception_reason": "sneaky"},
        format="json",
    )
    assert r.status_code in (403, 405)
    assert RestoreTest.objects.get(pk=slow_test.pk).rto_exception_reason == ""


# --- HTML -------------------------------------------------------------------------------------


def _sign_in(client, user):
    user.language = "en"
    user.save(update_fields=["language"])
    client.force_login(user)


def _post(client, test, **data):
    url = reverse("core:transition", args=["backups", "restoretest", test.pk])
    return client.post(url, {"transition": "pass_test", **data}, follow=True)


def test_page_refuses_a_slow_pass_and_says_why(client, slow_test, operator):
    _sign_in(client, operator)
    html = _post(client, slow_test, restore_minutes="90", notes="").content.decode()
    assert "exceeds the policy&#x27;s RTO" in html
    assert RestoreTest.objects.get(pk=slow_test.pk).state == RestoreTest.State.PLANNED


def test_page_shows_the_granted_exception(client, slow_test, ops_manager):
    _sign_in(client, ops_manager)
    html = _post(
        client,
        slow_test,
        restore_minutes="90",
        notes="",
        rto_exception_reason="Cold cache after the migration.",
    ).content.decode()
    assert RestoreTest.objects.get(pk=slow_test.pk).state == RestoreTest.State.PASSED
    assert 'data-testid="rto-exception"' in html
    assert "Cold cache after the migration." in html
    assert f"granted by {ops_manager}" in html
