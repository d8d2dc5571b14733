"""Read queries for the backup screens, the home page and the dashboard."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from .choices import (
    BOARD_STATUS_COLORS,
    RPO_STATUS_COLORS,
    RPO_WITHIN,
    BoardStatus,
    RpoStatus,
)
from .models import BackupJob, BackupPolicy, BackupSchedule, DRPlan, RestoreTest

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


def overdue_dr_drills(today: date | None = None) -> QuerySet[DRPlan]:
    """DR plans whose next drill is past its due date (§11.4), longest overdue first."""
    today = today or timezone.localdate()
    return (
        DRPlan.objects.filter(drill_due_on__lt=today)
        .select_related("owner")
        .order_by("drill_due_on", "id")
    )


def failed_jobs(since: datetime | None = None) -> QuerySet[BackupJob]:
    since = since or timezone.now() - timedelta(days=7)
    return BackupJob.objects.filter(
        state=BackupJob.State.FAILED, created_at__gte=since
    ).select_related("policy")


def my_open_items(user) -> list[dict]:
    """Home page "my work": overdue restore tests and recent failed jobs of the policies the user
    owns (all of them for users who own none but may operate backups), then overdue DR drills of
    the plans the user owns (all of them for users who own no plan but may record drills)."""
    if not user.has_perm("backups.view_backupjob"):
        return []
    owned = Q(policy__owner=user)
    tests = overdue_restore_tests()
    jobs = failed_jobs()
    if BackupPolicy.objects.filter(owner=user).exists():
        tests, jobs = tests.filter(owned), jobs.filter(owned)
    drills = overdue_dr_drills()
    if DRPlan.objects.filter(owner=user).exists():
        drills = drills.filter(owner=user)
    elif not user.has_perm("backups.add_drdrill"):
        drills = drills.none()
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
    items += [
        {
            "kind": "dr_drill",
            "number": gettext("DR drill"),
            "title": p.name,
            "state_label": gettext("Drill overdue"),
            "due": timezone.make_aware(datetime.combine(p.drill_due_on, time.min)),
            "url": p.get_absolute_url(),
            "overdue": True,
        }
        for p in drills[:20]
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
        "overdue_dr_drills": overdue_dr_drills(timezone.localdate(now)).count(),
        "failed_jobs_7d": failed_jobs(now - timedelta(days=7)).count(),
        "last_good_backup_at": last,
    }


def human_duration(value: timedelta | None) -> str:
    """A run's duration in the unit of the duration chart: whole minutes, "1 h 35 min";
    "< 1 min" for a run shorter than a minute; "—" when it has not finished."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return gettext("< 1 min")
    hours, mins = divmod(int(seconds / 60 + 0.5), 60)  # to the nearest minute, half up
    if hours and mins:
        return gettext("%(h)s h %(m)s min") % {"h": hours, "m": mins}
    if hours:
        return gettext("%(h)s h") % {"h": hours}
    return gettext("%(m)s min") % {"m": mins}


def duration_chart(jobs) -> dict:
    """Policy detail chart data: each finished run's duration (oldest first) and archive size.

    Durations are always minutes, the unit of the job table beside the chart
    (``human_duration``); ``duration_labels`` are the table's words, for the tooltips and the
    chart's own table. Sizes are MiB, or GiB once an archive reaches 1 GiB. A run without a
    size is ``None`` (a gap), never 0.
    """
    runs = [j for j in jobs if j.duration is not None]
    runs.sort(key=lambda j: (j.started_at, j.pk))
    # archive sizes in GiB once one reaches 1 GiB (the job table's unit for such archives)
    sizes = [j.size_bytes for j in runs if j.size_bytes is not None]
    if sizes and max(sizes) >= 2**30:
        size_exp, size_label = 30, gettext("Size (GiB)")
    else:
        size_exp, size_label = 20, gettext("Size (MiB)")
    return {
        "labels": [timezone.localtime(j.started_at).strftime("%m/%d %H:%M") for j in runs],
        "numbers": [j.number for j in runs],
        "states": [j.state for j in runs],
        "durations": [round(j.duration.total_seconds() / 60, 2) for j in runs],
        "duration_labels": [human_duration(j.duration) for j in runs],
        "sizes": [
            round(j.size_bytes / 2**size_exp, 3) if j.size_bytes is not None else None for j in runs
        ],
        "text": {
            "duration": gettext("Duration (%(unit)s)") % {"unit": gettext("min")},
            "size": size_label,
            "failed": gettext("Failed"),
        },
    }


def duration_rows(chart: dict) -> list[dict]:
    """The duration chart's numbers, one row per run, for the table under the chart."""
    states = dict(BackupJob.State.choices)
    return [
        {
            "number": number,
            "label": label,
            "state_label": states.get(state, state),
            "minutes": minutes,
            "duration_label": duration_label,
            "size": size,
        }
        for number, label, state, minutes, duration_label, size in zip(
            chart["numbers"],
            chart["labels"],
            chart["states"],
            chart["durations"],
            chart["duration_labels"],
            chart["sizes"],
            strict=True,
        )
    ]


# --- RPO/RTO board (§11.3 RPO/RTO)


@dataclass(frozen=True)
class BoardRow:
    """One target on the RPO/RTO board: its objectives against what was last measured."""

    policy: BackupPolicy
    rpo_status: str
    age: timedelta | None
    last_restore: RestoreTest | None
    restore_overdue: bool
    status: str
    reasons: tuple[str, ...]

    @property
    def rpo_label(self) -> str:
        return RpoStatus(self.rpo_status).label

    @property
    def rpo_color(self) -> str:
        return RPO_STATUS_COLORS[self.rpo_status]

    @property
    def status_label(self) -> str:
        return BoardStatus(self.status).label

    @property
    def color(self) -> str:
        return BOARD_STATUS_COLORS[self.status]

    @property
    def within_rto(self) -> bool | None:
        if self.last_restore is None or not self.policy.rto_minutes:
            return None
        return self.last_restore.restore_minutes <= self.policy.rto_minutes


def _board_status(policy, rpo_status, last_restore, overdue) -> tuple[str, tuple[str, ...]]:
    """Off target: RPO breached or no good backup yet, the last restore test failed or took
    longer than the RTO.
    Needs attention: RPO at risk, no measured restore time yet, or the restore test is overdue."""
    off, attention = [], []
    if rpo_status == RpoStatus.BREACHED:
        off.append(gettext("RPO breached"))
    elif rpo_status == RpoStatus.NO_BACKUP:
        off.append(gettext("no good backup yet"))
    elif rpo_status == RpoStatus.AT_RISK:
        attention.append(gettext("RPO at risk"))
    if policy.rto_minutes:
        if last_restore is None:
            attention.append(gettext("restore time never measured"))
        elif last_restore.restore_minutes > policy.rto_minutes:
            off.append(
                gettext("last restore took %(m)s min, RTO %(rto)s min")
                % {"m": last_restore.restore_minutes, "rto": policy.rto_minutes}
            )
    if last_restore is not None and last_restore.state == RestoreTest.State.FAILED:
        off.append(gettext("last restore test failed"))
    if overdue:
        attention.append(gettext("restore test overdue"))
    if off:
        return BoardStatus.OFF_TARGET, tuple(off + attention)
    if attention:
        return BoardStatus.ATTENTION, tuple(attention)
    if rpo_status == RpoStatus.NOT_MONITORED and not policy.rto_minutes:
        return BoardStatus.NOT_MONITORED, ()
    return BoardStatus.ON_TARGET, ()


def rpo_rto_board(now: datetime | None = None) -> list[BoardRow]:
    """Each active target: RPO, age of the last good backup, RTO, the last measured restore
    time (the latest executed restore test that recorded one) and a status colour."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    measured = RestoreTest.objects.filter(
        state__in=(RestoreTest.State.PASSED, RestoreTest.State.FAILED),
        restore_minutes__isnull=False,
    ).order_by("policy_id", "-executed_at", "-id")
    last_by_policy: dict[int, RestoreTest] = {}
    for test in measured.only(
        "id", "number", "policy_id", "state", "restore_minutes", "executed_at"
    ):
        last_by_policy.setdefault(test.policy_id, test)
    overdue = set(overdue_restore_tests(today).values_list("policy_id", flat=True))
    rows = []
    for policy in policies():
        rpo_status = policy.rpo_status(now)
        last = last_by_policy.get(policy.pk)
        status, reasons = _board_status(policy, rpo_status, last, policy.pk in overdue)
        rows.append(
            BoardRow(
                policy=policy,
                rpo_status=rpo_status,
                age=now - policy.last_success_at if policy.last_success_at else None,
                last_restore=last,
                restore_overdue=policy.pk in overdue,
                status=status,
                reasons=reasons,
            )
        )
    return rows


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
    # a policy that never had a good backup is monitored and not within (docs/metrics.md)
    within = sum(health["rpo"][status] for status in RPO_WITHIN)
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
        "overdue_dr_drills_now": health["overdue_dr_drills"],
        "failed_jobs_7d": health["failed_jobs_7d"],
        "policies_not_321": health["policies_not_321"],
        "last_good_backup_at": health["last_good_backup_at"],
    }
