"""Overdue restore tests are notified to the policy owner, once per test (§11.3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backups import services, tasks
from backups.models import RestoreTest
from itsm.core.models import AuditEvent, Notification

from .factories import BackupPolicyFactory, RestoreTestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(make_user):
    return make_user(
        "ops_leader", username="policy-owner", email="owner@example.com", language="en"
    )


def _late(owner, days=3, **policy):
    policy = BackupPolicyFactory(owner=owner, **policy)
    return RestoreTestFactory(policy=policy, due_on=timezone.localdate() - timedelta(days=days))


def _in_app(user):
    return Notification.objects.filter(recipient=user, channel=Notification.Channel.IN_APP)


def test_overdue_restore_test_is_notified_to_the_policy_owner_once(owner):
    test = _late(owner, name="Orders DB")
    assert [t.pk for t in services.notify_overdue_restore_tests()] == [test.pk]
    assert services.notify_overdue_restore_tests() == []
    (note,) = _in_app(owner)
    assert note.key == f"backups:restore-test-overdue:{test.number}"
    assert note.title == f"Restore test {test.number} of Orders DB is overdue"
    assert "3 days ago" in note.body and note.url == test.get_absolute_url()
    assert (
        Notification.objects.filter(
            recipient=owner, channel=Notification.Channel.EMAIL, key=note.key
        ).count()
        == 1
    )
    test.refresh_from_db()
    assert test.overdue_notified_at is not None
    assert AuditEvent.objects.filter(action="overdue_notified", object_id=str(test.pk)).count() == 1


def test_a_lost_mark_does_not_notify_twice(owner):
    """A crash after notifying but before the mark: the notification key makes a rerun a no-op."""
    test = _late(owner)
    services.notify_overdue_restore_tests()
    RestoreTest.objects.filter(pk=test.pk).update(overdue_notified_at=None)
    services.notify_overdue_restore_tests()
    assert _in_app(owner).count() == 1


def test_tests_due_today_done_or_running_late_are_handled_rightly(owner):
    policy = BackupPolicyFactory(owner=owner)
    today = timezone.localdate()
    RestoreTestFactory(policy=policy, due_on=today)  # due today: not late yet
    RestoreTestFactory(policy=policy, due_on=today - timedelta(days=5), state="passed")
    running = RestoreTestFactory(policy=policy, due_on=today - timedelta(days=1), state="running")
    assert [t.pk for t in services.notify_overdue_restore_tests()] == [running.pk]


def test_owner_is_told_in_their_language(make_user):
    japanese = make_user("operator", username="ja-owner", language="ja")
    test = _late(japanese, name="Orders DB")
    services.notify_overdue_restore_tests()
    (note,) = _in_app(japanese)
    assert note.title == f"Orders DB のリストアテスト {test.number} が期限を過ぎています"


def test_policy_without_an_active_owner_waits_until_one_is_set(owner, make_user):
    test = _late(None)
    gone = make_user("operator", username="left-the-company", is_active=False)
    other = _late(gone)
    assert services.notify_overdue_restore_tests() == []
    test.refresh_from_db()
    assert test.overdue_notified_at is None
    other.policy.owner = owner
    other.policy.save()
    assert [t.pk for t in services.notify_overdue_restore_tests()] == [other.pk]


def test_the_beat_task_calls_the_sweep(owner):
    _late(owner)
    assert tasks.notify_overdue_restore_tests() == 1
    assert tasks.notify_overdue_restore_tests() == 0
