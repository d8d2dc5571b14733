"""Read queries for the backup screens, the home page and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Max, Prefetch, Q, QuerySet
from django.utils import timezone

from .choices import RpoStatus
from .models import BackupJob, BackupPolicy, BackupSchedule, RestoreTest

DAY_MINUTES = 24 * 60


def policies() -> QuerySet[BackupPolicy]:
    return (
        BackupPolicy.objects.filter(is_active=True)
        .prefetch_related(
            "locations", Prefetch("schedules", queryset=BackupSchedule.objects.order_by("id"))
        )
        .select_related("owner")
    )


def recent_jobs(policy: BackupPolicy, limit: int = 50) -> QuerySet[BackupJob]:
    return policy.jobs.prefetch_related("locations").order_by("-created_at", "-id")[:limit]


@dataclass(frozen=True)
class Bar:
    label: str
    kind: str
    start_minute: int
    duration_minutes: int

    @property
    def left_pct(self) -> float:
        return round(self.start_minute * 100 / DAY_MINUTES, 3)

    @property
    def width_pct(self) -> float:
        end = min(self.start_minute + self.duration_minutes, DAY_MINUTES)
        return round(max(end - self.start_minute, 1) * 100 / DAY_MINUTES, 3)

    @property
    def start(self) -> str:
        return f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}"


def timeline(policy_list, day: date | None = None) -> list[tuple[BackupPolicy, list[Bar]]]:
    """§11.2 gantt: each policy's runs on ``day`` (local), numbered when a line runs repeatedly
    (差分バックアップ1, 2, 3)."""
    day = day or timezone.localdate()
    rows = []
    for policy in policy_list:
        bars = []
        for schedule, cron in policy.crons():
            runs = cron.runs_on(day)
            for i, run in enumerate(runs, start=1):
                label = (
                    schedule.label if len(runs) == 1 or len(runs) > 6 else (f"{schedule.label}{i}")
                )
                bars.append(
                    Bar(
                        label,
                        schedule.kind,
                        run.hour * 60 + run.minute,
                        schedule.expected_duration_minutes,
                    )
                )
        rows.append((policy, sorted(bars, key=lambda b: b.start_minute)))
    return rows


def overdue_restore_tests(today: date | None = None) -> QuerySet[RestoreTest]:
    today = today or timezone.localdate()
    return RestoreTest.objects.filter(
        state__in=RestoreTest.OPEN_STATES, due_on__lt=today
    ).select_related("policy")


def failed_jobs(since: datetime | None = None) -> QuerySet[BackupJob]:
    since = since or timezone.now() - timedelta(days=7)
    return BackupJob.objects.filter(
        state=BackupJob.State.FAILED, created_at__gte=since
    ).select_related("policy")


def my_open_items(user) -> list[dict]:
    """Home page "my work": overdue restore tests and recent failed jobs of the policies the user
    owns (all of them for users who own none but may operate backups)."""
    if not user.has_perm("backups.view_backupjob"):
        return []
    owned = Q(policy__owner=user)
    tests = overdue_restore_tests()
    jobs = failed_jobs()
    if BackupPolicy.objects.filter(owner=user).exists():
        tests, jobs = tests.filter(owned), jobs.filter(owned)
    items = [
        {
            "kind": "restore_test",
            "number": t.number,
            "title": t.policy.name,
            "state_label": t.get_state_display(),
            "due": timezone.make_aware(datetime.combine(t.due_on, time.min)) if t.due_on else None,
            "url": t.get_absolute_url(),
            "overdue": True,
        }
        for t in tests[:20]
    ]
    items += [
        {
            "kind": "backup_job",
            "number": j.number,
            "title": j.policy.name,
            "state_label": j.get_state_display(),
            "due": None,
            "url": j.get_absolute_url(),
            "overdue": False,
        }
        for j in jobs[:20]
    ]
    return items


def backup_health(now: datetime | None = None) -> dict:
    """Dashboard figures: RPO status counts, compliance, overdue tests, recent failures."""
    now = now or timezone.now()
    counts = {status.value: 0 for status in RpoStatus}
    not_321 = not_encrypted = 0
    for policy in policies():
        counts[policy.rpo_status(now)] += 1
        not_321 += not policy.three_two_one().ok
        not_encrypted += not policy.encryption().ok
    last = BackupJob.objects.filter(state__in=BackupJob.GOOD_STATES).aggregate(
        at=Max("finished_at")
    )["at"]
    return {
        "rpo": counts,
        "policies_not_321": not_321,
        "policies_not_encrypted": not_encrypted,
        "overdue_restore_tests": overdue_restore_tests().count(),
        "failed_jobs_7d": failed_jobs(now - timedelta(days=7)).count(),
        "last_good_backup_at": last,
    }
