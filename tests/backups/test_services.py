import importlib.util
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from backups import services
from backups.choices import JobKind, Method, RetentionUnit, TargetKind
from backups.models import BackupJob, BackupPolicy, RestoreTest, RpoBreach
from itsm.core import workflow

from .factories import (
    BackupPolicyFactory,
    BackupScheduleFactory,
    RestoreTestFactory,
    StorageLocationFactory,
)

pytestmark = pytest.mark.django_db
State = BackupJob.State


def _has_open_incident() -> bool:
    try:
        from incidents.services import open_incident  # noqa: F401
    except ImportError:
        return False
    return True


needs_incidents = pytest.mark.skipif(
    not _has_open_incident(),
    reason="incidents.services.open_incident is not merged yet (runs after the lead merges)",
)
has_crypto = importlib.util.find_spec("cryptography") is not None


def report(policy, state, **kwargs):
    return services.record_backup_job(policy=policy, state=state, **kwargs)


# --- reporting ------------------------------------------------------------------------------


def test_start_then_finish_reports_land_on_one_job(operator):
    policy = BackupPolicyFactory()
    job, created = report(policy, "running", external_id="restic-1", actor=operator)
    assert created and job.state == State.RUNNING and job.started_at
    again, created = report(
        policy,
        "succeeded",
        external_id="restic-1",
        size_bytes=1024,
        checksum="sha256:ab",
        actor=operator,
    )
    assert not created and again.pk == job.pk
    again.refresh_from_db()
    assert again.state == State.SUCCEEDED
    assert (again.size_bytes, again.checksum) == (1024, "sha256:ab")
    assert BackupJob.objects.filter(policy=policy).count() == 1


def test_repeated_and_out_of_order_reports_never_move_a_job_back(operator):
    policy = BackupPolicyFactory()
    report(policy, "succeeded", external_id="x", actor=operator)
    job, created = report(policy, "running", external_id="x", actor=operator)
    assert not created and job.state == State.SUCCEEDED
    job, _ = report(policy, "succeeded", external_id="x", actor=operator)
    assert job.state == State.SUCCEEDED


def test_the_same_external_id_on_another_policy_is_another_job(operator):
    a, b = BackupPolicyFactory(), BackupPolicyFactory()
    ja, _ = report(a, "running", external_id="42", actor=operator)
    jb, created = report(b, "running", external_id="42", actor=operator)
    assert created and ja.pk != jb.pk


def test_success_moves_the_rpo_deadline():
    policy = BackupPolicyFactory(rpo_minutes=360)
    finished = timezone.now() - timedelta(hours=1)
    report(policy, "succeeded", finished_at=finished)
    policy.refresh_from_db()
    assert policy.last_success_at == finished
    assert policy.rpo_due_at == finished + timedelta(hours=6)


def test_a_failed_run_keeps_its_error_and_does_not_move_the_deadline():
    policy = BackupPolicyFactory()
    due = policy.rpo_due_at
    job, _ = report(policy, "failed", error="disk full")
    assert job.state == State.FAILED and job.error == "disk full"
    policy.refresh_from_db()
    assert policy.rpo_due_at == due and policy.last_success_at is None


def test_user_without_operator_role_cannot_report(make_user):
    policy = BackupPolicyFactory()
    with pytest.raises(workflow.TransitionForbidden):
        report(policy, "running", actor=make_user(None))


# --- RPO ------------------------------------------------------------------------------------


def test_rpo_sweep_records_one_breach_however_often_it_runs():
    policy = BackupPolicyFactory(rpo_due_at=timezone.now() - timedelta(minutes=1))
    BackupPolicyFactory()  # within its RPO
    assert len(services.check_rpo()) == 1
    assert services.check_rpo() == []
    assert RpoBreach.objects.filter(policy=policy).count() == 1


def test_a_later_success_ends_the_breach_and_a_new_breach_can_follow():
    policy = BackupPolicyFactory(rpo_due_at=timezone.now() - timedelta(minutes=1))
    services.check_rpo()
    job, _ = report(policy, "succeeded")
    breach = RpoBreach.objects.get(policy=policy)
    assert breach.recovered_at is not None and breach.recovered_by_job == job
    with time_machine.travel(timezone.now() + timedelta(hours=7)):
        assert policy in [b.policy for b in services.check_rpo()]
    assert RpoBreach.objects.filter(policy=policy).count() == 2


def test_an_old_run_reported_late_does_not_end_the_breach():
    policy = BackupPolicyFactory(rpo_due_at=timezone.now() - timedelta(minutes=1))
    services.check_rpo()
    report(policy, "succeeded", finished_at=timezone.now() - timedelta(days=2))
    assert RpoBreach.objects.get(policy=policy).recovered_at is None


def test_policies_without_rpo_or_inactive_are_not_swept():
    past = timezone.now() - timedelta(days=1)
    BackupPolicyFactory(rpo_minutes=None, rpo_due_at=past)
    BackupPolicyFactory(is_active=False, rpo_due_at=past)
    assert services.check_rpo() == []


@needs_incidents
def test_rpo_breach_opens_exactly_one_incident_with_the_configured_priority():
    from incidents.models import Incident

    policy = BackupPolicyFactory(
        rpo_due_at=timezone.now() - timedelta(minutes=1), breach_priority="P1"
    )
    before = Incident.objects.count()
    services.check_rpo()
    services.check_rpo()
    assert Incident.objects.count() == before + 1
    breach = RpoBreach.objects.get(policy=policy)
    assert breach.incident is not None
    assert breach.incident.priority == "P1"
    assert policy.name in breach.incident.title


@needs_incidents
def test_recovery_is_recorded_on_the_incident():
    from itsm.core.audit import events_for

    policy = BackupPolicyFactory(rpo_due_at=timezone.now() - timedelta(minutes=1))
    (breach,) = services.check_rpo()
    report(policy, "succeeded")
    assert events_for(breach.incident).filter(action="backup_recovered").exists()


# --- retention ------------------------------------------------------------------------------


def _good(policy, hours_ago, kind=JobKind.FULL):
    job, _ = report(
        policy, "succeeded", kind=kind, finished_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return job


def test_retention_keeps_exactly_n_generations():
    policy = BackupPolicyFactory(retention_count=3)
    jobs = [_good(policy, h) for h in (50, 40, 30, 20, 10)]
    assert services.expire_old_generations() == 2
    states = [BackupJob.objects.get(pk=j.pk).state for j in jobs]
    assert states == [
        State.EXPIRED,
        State.EXPIRED,
        State.SUCCEEDED,
        State.SUCCEEDED,
        State.SUCCEEDED,
    ]
    assert services.expire_old_generations() == 0


def test_differentials_stay_with_their_kept_full_backup():
    policy = BackupPolicyFactory(retention_count=2, method=Method.FULL_DIFFERENTIAL)
    old_full = _good(policy, 60)
    old_diff = _good(policy, 54, JobKind.DIFFERENTIAL)
    full1 = _good(policy, 36)
    diff1 = _good(policy, 30, JobKind.DIFFERENTIAL)
    full2 = _good(policy, 12)
    diff2 = _good(policy, 6, JobKind.DIFFERENTIAL)
    services.expire_old_generations()
    expired = set(BackupJob.objects.filter(state=State.EXPIRED).values_list("pk", flat=True))
    assert expired == {old_full.pk, old_diff.pk}
    assert {full1.pk, diff1.pk, full2.pk, diff2.pk}.isdisjoint(expired)


def test_retention_in_days():
    policy = BackupPolicyFactory(retention_count=90, retention_unit=RetentionUnit.DAYS)
    old = _good(policy, 91 * 24)
    recent = _good(policy, 89 * 24)
    services.expire_old_generations()
    assert BackupJob.objects.get(pk=old.pk).state == State.EXPIRED
    assert BackupJob.objects.get(pk=recent.pk).state == State.SUCCEEDED


def test_failed_runs_older_than_the_kept_generations_expire():
    policy = BackupPolicyFactory(retention_count=1)
    failed, _ = report(policy, "failed", finished_at=timezone.now() - timedelta(days=3))
    _good(policy, 1)
    services.expire_old_generations()
    assert BackupJob.objects.get(pk=failed.pk).state == State.EXPIRED


# --- restore tests --------------------------------------------------------------------------


def test_first_quarterly_restore_test_is_due_at_quarter_end():
    BackupPolicy.objects.update(is_active=False)
    policy = BackupPolicyFactory()
    (test,) = services.plan_restore_tests(today=date(2026, 5, 10))
    assert test.policy == policy and test.due_on == date(2026, 6, 30)
    assert services.plan_restore_tests(today=date(2026, 5, 10)) == []


def test_recording_a_passed_test_plans_the_next_one_a_quarter_later(operator):
    test = RestoreTestFactory(due_on=timezone.localdate() + timedelta(days=10))
    services.record_restore_test(test, passed=True, restore_minutes=90, actor=operator)
    test.refresh_from_db()
    assert test.state == RestoreTest.State.PASSED and test.within_rto is True
    nxt = RestoreTest.objects.get(policy=test.policy, state=RestoreTest.State.PLANNED)
    assert nxt.due_on == services.add_months(test.due_on, 3)


def test_passing_needs_the_measured_restore_time(operator):
    test = RestoreTestFactory()
    with pytest.raises(workflow.GuardFailed):
        services.record_restore_test(test, passed=True, actor=operator)


def test_failing_needs_a_reason(operator):
    test = RestoreTestFactory()
    with pytest.raises(workflow.TransitionInvalid):
        services.record_restore_test(test, passed=False, restore_minutes=500, actor=operator)


def test_overdue_restore_test():
    test = RestoreTestFactory(due_on=timezone.localdate() - timedelta(days=1))
    assert test.is_overdue
    assert not RestoreTestFactory().is_overdue


def test_add_months_clamps_to_month_end():
    assert services.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


# --- the built-in executor ------------------------------------------------------------------


executor_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def portal_policy(tmp_path):
    policy, _ = BackupPolicy.objects.get_or_create(
        slug="portal-database",
        defaults={
            "name": "portal",
            "target_kind": TargetKind.PORTAL_DATABASE,
            "method": Method.FULL,
            "retention_count": 7,
            "rpo_minutes": 1440,
        },
    )
    location = StorageLocationFactory(path=str(tmp_path))
    policy.locations.set([location])
    return policy


@pytest.mark.skipif(connection.vendor != "sqlite", reason="embedded-mode (SQLite) executor")
@executor_db
def test_portal_backup_writes_a_checksummed_restorable_sqlite_copy(portal_policy, monkeypatch):
    monkeypatch.delenv("BACKUP_ENCRYPTION_KEY", raising=False)
    job = services.run_portal_backup(portal_policy)
    assert job.state == State.VERIFIED, job.error
    path = Path(job.archive_path)
    assert path.exists() and job.size_bytes == path.stat().st_size
    assert job.checksum == "sha256:" + services._sha256(path)
    copy = sqlite3.connect(path)
    (count,) = copy.execute("SELECT count(*) FROM backups_backuppolicy").fetchone()
    copy.close()
    assert count == BackupPolicy.objects.count()
    portal_policy.refresh_from_db()
    assert portal_policy.last_success_at == job.finished_at


@pytest.mark.skipif(not has_crypto, reason="needs the 'cryptography' package")
@pytest.mark.skipif(connection.vendor != "sqlite", reason="embedded-mode (SQLite) executor")
@executor_db
def test_portal_backup_is_encrypted_with_the_environment_key(portal_policy, monkeypatch, tmp_path):
    from backups import crypto

    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", "correct horse")
    job = services.run_portal_backup(portal_policy)
    assert job.state == State.VERIFIED and job.encrypted
    path = Path(job.archive_path)
    assert crypto.is_encrypted(path)
    plain = tmp_path / "plain.sqlite3"
    crypto.decrypt_file(path, plain, "correct horse")
    assert sqlite3.connect(plain).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_file(path, tmp_path / "x", "wrong key")


@pytest.mark.postgres
@executor_db
def test_portal_backup_on_postgresql_is_a_restorable_pg_dump(portal_policy, monkeypatch):
    """The production path: ``pg_dump --format=custom``, read back in full by pg_restore."""
    import shutil
    import subprocess

    if not shutil.which("pg_restore"):
        pytest.skip("needs the PostgreSQL client tools (pg_dump, pg_restore)")
    monkeypatch.delenv("BACKUP_ENCRYPTION_KEY", raising=False)
    job = services.run_portal_backup(portal_policy)
    assert job.state == State.VERIFIED, job.error
    path = Path(job.archive_path)
    assert job.checksum == "sha256:" + services._sha256(path)
    listing = subprocess.run(
        ["pg_restore", "--list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE DATA public backups_backuppolicy" in listing


def test_portal_backup_failure_is_recorded_on_the_job(portal_policy, monkeypatch):
    def broken(target):
        raise OSError("no space left on device")

    monkeypatch.setattr(services, "_dump_sqlite", broken)
    monkeypatch.setattr(services, "_dump_postgres", broken)
    job = services.run_portal_backup(portal_policy)
    assert job.state == State.FAILED and "no space left" in job.error


@pytest.mark.skipif(connection.vendor != "sqlite", reason="embedded-mode (SQLite) executor")
@executor_db
def test_portal_backups_keep_only_the_configured_generations(portal_policy, monkeypatch):
    monkeypatch.delenv("BACKUP_ENCRYPTION_KEY", raising=False)
    portal_policy.retention_count = 2
    portal_policy.save()
    jobs = [services.run_portal_backup(portal_policy) for _ in range(3)]
    jobs[0].refresh_from_db()
    assert jobs[0].state == State.EXPIRED
    assert not Path(jobs[0].archive_path).exists()
    assert all(Path(j.archive_path).exists() for j in jobs[1:])


def test_due_portal_backup_runs_once_and_schedules_the_next(portal_policy, monkeypatch):
    ran = []
    monkeypatch.setattr(services, "run_portal_backup", lambda p: ran.append(p) or p)
    BackupPolicy.objects.filter(pk=portal_policy.pk).update(
        next_run_at=timezone.now() - timedelta(minutes=1)
    )
    services.run_due_portal_backups()
    services.run_due_portal_backups()
    assert len(ran) == 1
    portal_policy.refresh_from_db()
    assert portal_policy.next_run_at > timezone.now()


def test_next_scheduled_run_uses_every_cron_line():
    policy = BackupPolicyFactory()
    BackupScheduleFactory(policy=policy, cron="0 0 * * *")
    BackupScheduleFactory(policy=policy, cron="0 6,12,18 * * *")
    local = timezone.localtime().replace(hour=7, minute=0, second=0, microsecond=0)
    assert policy.next_scheduled_run(local).hour == 12
