"""Demo backup history for `manage.py seed_demo` (idempotent: jobs keyed by external id)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.utils import timezone

from itsm.core.demo import can_travel, travel

from . import services
from .choices import DrillResult, JobKind
from .models import BackupJob, BackupPolicy, DRScenario, RestoreTest

SYSTEM = "demo"


def _report(policy, key, kind, hours_ago, minutes, *, state="succeeded", size=0, error=""):
    finished = timezone.now() - timedelta(hours=hours_ago)
    services.record_backup_job(
        policy=policy,
        state=state,
        external_id=f"demo-{key}",
        kind=kind,
        started_at=finished - timedelta(minutes=minutes),
        finished_at=finished,
        size_bytes=size or None,
        checksum="sha256:" + hashlib.sha256(key.encode()).hexdigest()
        if state == "succeeded"
        else "",
        error=error,
        locations=list(policy.locations.all()),
        system_label=SYSTEM,
    )


def seed(users: dict) -> None:
    owner = users.get("leader")
    policies = {p.slug: p for p in BackupPolicy.objects.all()}
    for p in policies.values():
        if owner and p.owner_id is None:
            p.owner = owner
            p.save(update_fields=["owner"])
    db = policies.get("database")
    if db:
        for day in range(3, 0, -1):
            base = day * 24
            _report(db, f"db-full-{day}", JobKind.FULL, base, 95, size=48 * 2**30)
            for i, hour in enumerate((18, 12, 6), start=1):
                _report(
                    db,
                    f"db-diff-{day}-{i}",
                    JobKind.DIFFERENTIAL,
                    base - hour,
                    20,
                    size=3 * 2**30,
                )
        _report(db, "db-full-0", JobKind.FULL, 3, 100, size=49 * 2**30)
    files = policies.get("file-storage")
    if files:
        _report(files, "fs-1", JobKind.FULL, 50, 55, size=120 * 2**30)
        _report(
            files,
            "fs-2",
            JobKind.FULL,
            26,
            0,
            state="failed",
            error="rsync: connection to nas01 timed out",
        )
    # File storage has no good backup within its 24 h RPO: the sweep raises the breach.
    logs = policies.get("logs")
    if logs:
        for h in range(1, 6):
            _report(logs, f"logs-{h}", JobKind.INCREMENTAL, h, 3, size=200 * 2**20)
    services.check_rpo()
    services.plan_restore_tests()
    # One overdue restore test, for the home page and the dashboard.
    if db and not RestoreTest.objects.filter(policy=db, target__startswith="[demo]").exists():
        RestoreTest.objects.create(
            policy=db,
            due_on=timezone.localdate() - timedelta(days=5),
            target="[demo] 最新のフル+差分をステージング環境へリストア",
            success_criteria="全テーブルの件数とチェックサムが一致し、RTO 4時間以内に完了すること",
        )
    _restore_tests(policies, users)
    scenario = DRScenario.objects.filter(name="データセンター障害").first()
    if scenario and not scenario.drills.exists():
        plan = scenario.plan
        if plan.owner_id is None and users.get("manager"):
            plan.owner = users["manager"]
            plan.save(update_fields=["owner"])
        services.record_dr_drill(
            scenario,
            held_on=timezone.localdate() - timedelta(days=60),
            measured_minutes=210,
            result=DrillResult.PASSED,
            findings="DNS切り替え手順の待ち時間を短縮できる余地あり",
            actor=users.get("manager"),
        )


# policy slug, job key (restored from), passed, minutes, notes: this quarter's planned restore
# test of the policy carried out half an hour ago (after its backup finished) and recorded through
# the service (which plans the next).
RESTORE_TESTS = [
    ("database", "db-full-1", True, 95, "件数・チェックサム一致、RTO内に完了"),
    ("logs", "logs-1", True, 12, "直近1時間分を復元し検索可能を確認"),
    ("file-storage", "fs-1", False, 180, "NAS への書き込み権限不足で一部ファイルが復元できず"),
]


def _restore_tests(policies: dict, users: dict) -> None:
    if not can_travel():
        return
    actor = users.get("operator")
    executed = timezone.now() - timedelta(minutes=30)
    today = timezone.localdate(executed)
    for slug, job_key, passed, minutes, notes in RESTORE_TESTS:
        policy = policies.get(slug)
        job = BackupJob.objects.filter(external_id=f"demo-{job_key}").first()
        if policy is None or job is None:
            continue
        if policy.restore_tests.exclude(state__in=RestoreTest.OPEN_STATES).exists():
            continue  # recorded on an earlier run
        test = (
            policy.restore_tests.filter(state__in=RestoreTest.OPEN_STATES, due_on__gte=today)
            .order_by("due_on")
            .first()
        ) or services.plan_restore_test(policy, due_on=services.end_of_quarter(today))
        with travel(executed):
            services.record_restore_test(
                test,
                passed=passed,
                actor=actor,
                restore_minutes=minutes,
                notes=notes,
                comment="" if passed else notes,
                backup_job=job,
            )
