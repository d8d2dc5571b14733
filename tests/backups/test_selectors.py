from datetime import timedelta

import pytest
from django.utils import timezone, translation

from backups import selectors, services
from backups.choices import BoardStatus
from backups.models import BackupJob, RestoreTest

from .factories import BackupJobFactory, BackupPolicyFactory, RestoreTestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _row(policy):
    return next(r for r in selectors.rpo_rto_board() if r.policy.pk == policy.pk)


def _measured(policy, minutes, *, state=RestoreTest.State.PASSED, days_ago=1):
    return RestoreTestFactory(
        policy=policy,
        state=state,
        restore_minutes=minutes,
        executed_at=timezone.now() - timedelta(days=days_ago),
        due_on=timezone.localdate() - timedelta(days=days_ago),
    )


def _backed_up(policy, hours_ago=1):
    finished = timezone.now() - timedelta(hours=hours_ago)
    policy.last_success_at = finished
    policy.rpo_due_at = finished + policy.rpo
    policy.save()
    return policy


def test_target_within_rpo_and_restored_within_rto_is_on_target():
    policy = _backed_up(BackupPolicyFactory(rpo_minutes=360, rto_minutes=60))
    _measured(policy, 45)
    row = _row(policy)
    assert row.status == BoardStatus.ON_TARGET and row.color == "success"
    assert row.within_rto is True and row.last_restore.restore_minutes == 45
    assert timedelta(minutes=59) < row.age < timedelta(minutes=61)
    assert row.reasons == ()


def test_breached_rpo_puts_the_target_off_target():
    policy = _backed_up(BackupPolicyFactory(rpo_minutes=60, rto_minutes=60), hours_ago=3)
    _measured(policy, 30)
    row = _row(policy)
    assert row.status == BoardStatus.OFF_TARGET and row.color == "danger"
    assert row.reasons == ("RPO breached",)


def test_the_latest_measured_restore_counts_against_the_rto():
    policy = _backed_up(BackupPolicyFactory(rpo_minutes=360, rto_minutes=60))
    _measured(policy, 20, days_ago=100)
    latest = _measured(policy, 95, days_ago=2)
    RestoreTestFactory(policy=policy)  # planned, nothing measured yet: ignored
    row = _row(policy)
    assert row.last_restore == latest and row.within_rto is False
    assert row.status == BoardStatus.OFF_TARGET
    assert "last restore took 95 min, RTO 60 min" in row.reasons


def test_a_failed_last_restore_test_is_off_target_even_within_the_rto():
    policy = _backed_up(BackupPolicyFactory(rpo_minutes=360, rto_minutes=60))
    _measured(policy, 30, state=RestoreTest.State.FAILED)
    assert _row(policy).status == BoardStatus.OFF_TARGET


def test_unmeasured_restore_time_or_an_overdue_test_needs_attention():
    policy = _backed_up(BackupPolicyFactory(rpo_minutes=360, rto_minutes=60))
    row = _row(policy)
    assert row.status == BoardStatus.ATTENTION and row.color == "warning"
    assert row.reasons == ("restore time never measured",)
    _measured(policy, 30)
    RestoreTestFactory(policy=policy, due_on=timezone.localdate() - timedelta(days=2))
    row = _row(policy)
    assert row.status == BoardStatus.ATTENTION and row.restore_overdue
    assert row.reasons == ("restore test overdue",)


def test_rpo_at_risk_needs_attention():
    policy = _backed_up(BackupPolicyFactory(rpo_minutes=240, rto_minutes=60), hours_ago=3.5)
    _measured(policy, 30)
    assert _row(policy).reasons == ("RPO at risk",)


def test_target_without_objectives_is_not_monitored():
    policy = BackupPolicyFactory(rpo_minutes=None, rto_minutes=None, rpo_due_at=None)
    row = _row(policy)
    assert row.status == BoardStatus.NOT_MONITORED and row.age is None


def test_inactive_policies_are_not_on_the_board():
    policy = BackupPolicyFactory(is_active=False)
    assert all(r.policy.pk != policy.pk for r in selectors.rpo_rto_board())


def test_duration_chart_lists_finished_runs_oldest_first_in_minutes():
    """Always minutes, the job table's unit (issue 14: seconds beside a chart in minutes)."""
    policy = BackupPolicyFactory()
    now = timezone.now()
    older = BackupJobFactory(
        policy=policy,
        started_at=now - timedelta(days=1, seconds=30),
        finished_at=now - timedelta(days=1),
        size_bytes=2**20,
    )
    newer = BackupJobFactory(policy=policy, started_at=now - timedelta(seconds=90), finished_at=now)
    BackupJobFactory(policy=policy)  # scheduled, no duration yet
    chart = selectors.duration_chart(list(policy.jobs.all()))
    assert chart["numbers"] == [older.number, newer.number]
    assert chart["durations"] == [0.5, 1.5] and chart["sizes"] == [1.0, None]
    assert chart["duration_labels"] == ["< 1 min", "2 min"]
    assert chart["text"]["duration"] == "Duration (min)"
    slow = BackupJobFactory(
        policy=policy, started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=1)
    )
    chart = selectors.duration_chart(list(policy.jobs.all()))
    assert chart["text"]["duration"] == "Duration (min)"
    assert chart["durations"][chart["numbers"].index(slow.number)] == 60.0
    assert chart["duration_labels"][chart["numbers"].index(slow.number)] == "1 h"


def test_failed_runs_are_charted_with_their_state():
    policy = BackupPolicyFactory()
    job, _ = services.record_backup_job(
        policy=policy,
        state="failed",
        started_at=timezone.now() - timedelta(minutes=1),
        error="disk full",
    )
    chart = selectors.duration_chart([job])
    assert chart["states"] == [BackupJob.State.FAILED]
