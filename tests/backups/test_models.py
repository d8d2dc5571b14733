import pytest
from django.utils import timezone, translation

from backups.choices import MediaType, RpoStatus, TargetKind
from backups.models import BackupPolicy, DRPlan, StorageLocation

from .factories import BackupPolicyFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db


def _loc(media=MediaType.DISK, offsite=False, encrypted=True):
    return StorageLocationFactory(media_type=media, offsite=offsite, encrypted=encrypted)


def test_seeded_policies_equal_the_seed_tables():
    rows = {
        p.name: (
            p.target_kind,
            p.method,
            p.frequency_label,
            p.retention_count,
            p.retention_unit,
            p.rpo_minutes,
            p.rto_minutes,
            sorted((s.kind, s.cron) for s in p.schedules.all()),
        )
        for p in BackupPolicy.objects.all()
    }
    assert rows["データベース"] == (
        "database",
        "full_differential",
        "日次フル+6時間毎差分",
        30,
        "generations",
        360,
        240,
        [("differential", "0 6,12,18 * * *"), ("full", "0 0 * * *")],
    )
    assert rows["ファイルストレージ"] == (
        "file_storage",
        "full",
        "日次",
        7,
        "generations",
        1440,
        120,
        [("full", "0 2 * * *")],
    )
    assert rows["システム設定"] == (
        "system_config",
        "full",
        "変更時",
        10,
        "generations",
        None,
        None,
        [],
    )
    assert rows["ログファイル"] == (
        "logs",
        "incremental",
        "1時間毎",
        90,
        "days",
        None,
        None,
        [("incremental", "0 * * * *")],
    )
    assert BackupPolicy.objects.get(slug="system-config").trigger == "on_change"
    portal = BackupPolicy.objects.get(target_kind=TargetKind.PORTAL_DATABASE)
    assert portal.next_run_at is not None


def test_seeded_dr_plan_has_system_wide_objectives_and_both_scenarios():
    plan = DRPlan.objects.get()
    assert (plan.system_rpo_minutes, plan.system_rto_minutes) == (1440, 480)
    assert [s.name for s in plan.scenarios.all()] == ["データセンター障害", "リージョン障害"]


def test_seeded_database_policy_meets_three_two_one():
    assert BackupPolicy.objects.get(slug="database").three_two_one().ok


def test_three_copies_on_two_media_with_one_offsite_comply():
    policy = BackupPolicyFactory(
        locations=[_loc(), _loc(MediaType.TAPE), _loc(MediaType.OBJECT_STORAGE, offsite=True)]
    )
    result = policy.three_two_one()
    assert result.ok and result.reasons == []


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_two_copies_are_not_enough():
    policy = BackupPolicyFactory(locations=[_loc(), _loc(MediaType.TAPE, offsite=True)])
    result = policy.three_two_one()
    assert not result.ok
    assert result.reasons == ["2 of 3 copies"]


def test_three_copies_on_one_medium_without_offsite_give_both_reasons():
    policy = BackupPolicyFactory(locations=[_loc(), _loc(), _loc()])
    assert policy.three_two_one().reasons == ["1 of 2 media types", "no offsite copy"]


def test_policy_without_locations_fails_every_rule():
    assert len(BackupPolicyFactory().three_two_one().reasons) == 3


def test_encryption_by_tool_complies_even_on_plain_storage():
    policy = BackupPolicyFactory(encrypt_backups=True, locations=[_loc(encrypted=False)])
    assert policy.encryption().ok


def test_plain_archives_on_an_unencrypted_location_are_named():
    plain = StorageLocation.objects.create(name="USB", media_type=MediaType.DISK)
    policy = BackupPolicyFactory(encrypt_backups=False, locations=[_loc(), plain])
    result = policy.encryption()
    assert not result.ok
    assert "USB" in result.reasons[0]


def test_portal_policy_encryption_follows_the_environment_key(monkeypatch):
    policy = BackupPolicy.objects.get(target_kind=TargetKind.PORTAL_DATABASE)
    monkeypatch.delenv("BACKUP_ENCRYPTION_KEY", raising=False)
    assert not policy.encryption().ok
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", "s3cret")
    assert policy.encryption().ok


def test_rpo_status_by_deadline():
    now = timezone.now()
    policy = BackupPolicyFactory(
        rpo_minutes=360,
        last_success_at=now - timezone.timedelta(hours=1),
        rpo_due_at=now + timezone.timedelta(hours=5),
    )
    assert policy.rpo_status(now) == RpoStatus.OK
    policy.rpo_due_at = now + timezone.timedelta(minutes=30)
    assert policy.rpo_status(now) == RpoStatus.AT_RISK
    policy.rpo_due_at = now - timezone.timedelta(minutes=1)
    assert policy.rpo_status(now) == RpoStatus.BREACHED
    policy.rpo_minutes = None
    assert policy.rpo_status(now) == RpoStatus.NOT_MONITORED


def test_a_policy_never_backed_up_is_never_within_rpo():
    """Issue 14: "never" beside "Within RPO" — only a good backup can be within the RPO."""
    now = timezone.now()
    policy = BackupPolicyFactory(rpo_minutes=360, rpo_due_at=now + timezone.timedelta(hours=5))
    assert policy.last_success_at is None
    assert policy.rpo_status(now) == RpoStatus.NO_BACKUP
    policy.rpo_due_at = now + timezone.timedelta(minutes=30)  # would be "at risk"
    assert policy.rpo_status(now) == RpoStatus.NO_BACKUP
    policy.rpo_due_at = None  # a monitored policy without a deadline yet
    assert policy.rpo_status(now) == RpoStatus.NO_BACKUP
    policy.rpo_due_at = now - timezone.timedelta(minutes=1)  # the first backup is overdue
    assert policy.rpo_status(now) == RpoStatus.BREACHED
    policy.rpo_minutes = None
    assert policy.rpo_status(now) == RpoStatus.NOT_MONITORED
