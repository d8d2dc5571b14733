"""Read queries for the backup screens, the home page and the dashboard."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Prefetch, Q, QuerySet
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


# --- metrics (dashboard)
# Definitions: docs/metrics.md § Backups. Backup policies are not tied to a service, so these
# figures are portal-wide whatever service the dashboard is filtered by.


def _months_before(moment: datetime, months: int) -> datetime:
    """``moment`` minus whole calendar months (the day clamped to the shorter month)."""
    year, month = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + year, month + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def backup_metrics(*, since: datetime, until: datetime, now: datetime | None = None) -> dict:
    """Policies within RPO (now) and restore tests passed within each policy's interval
    (quarterly by default) before the end of the period; restore tests due in the period."""
    now = now or timezone.now()
    health = backup_health(now)
    end = min(until, now)
    active = BackupPolicy.objects.filter(is_active=True).annotate(
        last_passed=Max(
            "restore_tests__executed_at",
            filter=Q(
                restore_tests__state=RestoreTest.State.PASSED, restore_tests__executed_at__lt=end
            ),
        )
    )
    tested = total = 0
    for policy in active.only("pk", "restore_test_interval_months"):
        total += 1
        window_start = _months_before(end, policy.restore_test_interval_months or 3)
        tested += policy.last_passed is not None and policy.last_passed >= window_start
    local = timezone.get_current_timezone()
    due = RestoreTest.objects.filter(
        due_on__gte=timezone.localtime(since, local).date(),
        due_on__lt=timezone.localtime(until, local).date(),
    ).aggregate(
        total=Count("pk"),
        passed=Count("pk", filter=Q(state=RestoreTest.State.PASSED)),
        failed=Count("pk", filter=Q(state=RestoreTest.State.FAILED)),
        open=Count("pk", filter=Q(state__in=RestoreTest.OPEN_STATES)),
    )
    monitored = sum(n for status, n in health["rpo"].items() if status != RpoStatus.NOT_MONITORED)
    within = health["rpo"][RpoStatus.OK] + health["rpo"][RpoStatus.AT_RISK]
    return {
        "rpo": health["rpo"],
        "policies_monitored": monitored,
        "policies_within_rpo": within,
        "rpo_compliance": round(within / monitored, 4) if monitored else None,
        "policies": total,
        "policies_restore_tested": tested,
        "restore_test_compliance": round(tested / total, 4) if total else None,
        "restore_tests_due": due,
        "overdue_restore_tests_now": health["overdue_restore_tests"],
        "failed_jobs_7d": health["failed_jobs_7d"],
        "policies_not_321": health["policies_not_321"],
        "last_good_backup_at": health["last_good_backup_at"],
    }
