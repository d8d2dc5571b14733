"""Backup & recovery use cases (seed §11). Views, API, tasks and commands call only these.

- ``record_backup_job``: a backup tool reports a run starting or finishing (idempotent on its
  external id, §11.2).
- ``succeed_backup_job``: the one way a job succeeds (moves the policy's RPO deadline, closes an
  open RPO breach).
- ``check_rpo``: sweep — a policy whose last good backup is older than its RPO opens one
  incident per breach (§11.3 RPO).
- ``expire_old_generations``: sweep — retention by generations or days (§11.2 世代管理).
- ``plan_restore_test`` / ``plan_restore_tests`` / ``record_restore_test``: quarterly restore
  tests (§11.3 リカバリテスト).
- ``pass_restore_test``: the one way a restore test passes; slower than the RTO only with an
  RTO exception (reason, granted by an ops manager or the policy owner, audited).
- ``notify_overdue_restore_tests``: sweep — an overdue restore test is notified to the policy
  owner once (§11.3).
- ``record_dr_drill``: the record of a DR drill (§11.4); it moves the plan's next drill due date.
- ``schedule_dr_drill``: a DR plan's next drill is due its interval after the last drill (or
  after the plan's creation).
- ``notify_overdue_dr_drills``: sweep — an overdue drill is notified to the plan's owner, once
  per due date.
- ``run_portal_backup`` / ``run_due_portal_backups``: the built-in executor for the portal's own
  database (SQLite backup API, or ``pg_dump --format=custom`` on PostgreSQL), encrypted when
  ``BACKUP_ENCRYPTION_KEY`` is set, checksummed and verified by a full read.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import record_event
from itsm.core.notifications import notify

from . import crypto
from .choices import JobKind, Method, RetentionUnit, TargetKind
from .models import (
    BackupJob,
    BackupPolicy,
    DRDrill,
    DRPlan,
    DRScenario,
    RestoreTest,
    RpoBreach,
    StorageLocation,
    add_months,
    may_grant_rto_exception,
)

log = logging.getLogger(__name__)

State = BackupJob.State
SYSTEM = "backups"

# The transitions that take a job from one state to a reported one, in order.
_PATHS = {
    (State.SCHEDULED, State.RUNNING): ["start"],
    (State.SCHEDULED, State.SUCCEEDED): ["succeed"],
    (State.SCHEDULED, State.FAILED): ["fail"],
    (State.SCHEDULED, State.VERIFIED): ["succeed", "verify"],
    (State.RUNNING, State.SUCCEEDED): ["succeed"],
    (State.RUNNING, State.FAILED): ["fail"],
    (State.RUNNING, State.VERIFIED): ["succeed", "verify"],
    (State.SUCCEEDED, State.VERIFIED): ["verify"],
}
REPORTABLE_STATES = (State.SCHEDULED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.VERIFIED)


def _transition_data(job: BackupJob, name: str) -> dict:
    """The fields a transition's form re-validates; passing the job's own values keeps them."""
    if name == "succeed":
        return {
            "size_bytes": job.size_bytes if job.size_bytes is not None else "",
            "checksum": job.checksum,
        }
    if name == "fail":
        return {"error": job.error}
    return {}


def record_backup_job(
    *,
    policy: BackupPolicy,
    state: str,
    actor=None,
    external_id: str | None = None,
    kind: str = JobKind.FULL,
    scheduled_for: datetime | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    size_bytes: int | None = None,
    checksum: str = "",
    error: str = "",
    locations: list[StorageLocation] | None = None,
    system_label: str = "",
) -> tuple[BackupJob, bool]:
    """Record what a backup tool reports about one run; returns ``(job, created)``.

    §11.2: external tools (restic, pgBackRest, Bacula wrappers) report start and finish. The
    same ``external_id`` always lands on the same job: a repeated report is a no-op, a later
    one moves the job forward (running → succeeded), an older one never moves it back.
    """
    if state not in REPORTABLE_STATES:
        raise ValueError(f"state {state!r} cannot be reported")
    with transaction.atomic():
        job = None
        if external_id:
            job = (
                BackupJob.objects.select_for_update()
                .filter(policy=policy, external_id=external_id)
                .first()
            )
        created = job is None
        if created:
            job = BackupJob(
                policy=policy,
                external_id=external_id or None,
                kind=kind,
                scheduled_for=scheduled_for,
                reported_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            try:
                with transaction.atomic():
                    job.save()
            except IntegrityError:
                # A concurrent report of the same run won the insert; continue on its row.
                job = BackupJob.objects.select_for_update().get(
                    policy=policy, external_id=external_id
                )
                created = False
        # Facts only fill in or refine; they never erase what an earlier report said.
        for name, value in (
            ("started_at", started_at),
            ("finished_at", finished_at),
            ("size_bytes", size_bytes),
        ):
            if value is not None:
                setattr(job, name, value)
        if checksum:
            job.checksum = checksum
        if error:
            job.error = error
        job.save()
        if locations is not None:
            job.locations.set(locations)
        for name in _PATHS.get((job.state, state), []):
            if name == "succeed":
                succeed_backup_job(job, actor=actor, system_label=system_label)
            else:
                workflow.apply_transition(
                    job,
                    name,
                    actor=actor,
                    data=_transition_data(job, name),
                    system_label=system_label,
                )
    return job, created


def _after_success(job: BackupJob) -> None:
    """A good backup moves the policy's RPO deadline and ends an open RPO breach."""
    policy = BackupPolicy.objects.select_for_update().get(pk=job.policy_id)
    finished = job.finished_at or timezone.now()
    if policy.last_success_at is None or finished > policy.last_success_at:
        policy.last_success_at = finished
        policy.rpo_due_at = finished + policy.rpo if policy.rpo else None
        policy.save(update_fields=["last_success_at", "rpo_due_at"])
    if policy.rpo_due_at is not None and policy.rpo_due_at <= timezone.now():
        return  # an old run reported late does not end the breach
    breach = RpoBreach.objects.filter(policy=policy, recovered_at__isnull=True).first()
    if breach is None:
        return
    breach.recovered_at = timezone.now()
    breach.recovered_by_job = job
    breach.save(update_fields=["recovered_at", "recovered_by_job"])
    record_event(
        policy,
        action="rpo_recovered",
        actor_label=SYSTEM,
        data={"job": job.number, "breach": breach.pk},
    )
    if breach.incident_id:
        record_event(
            breach.incident,
            action="backup_recovered",
            actor_label=SYSTEM,
            comment=_("Backup %(job)s succeeded; the RPO of %(policy)s is met again.")
            % {"job": job.number, "policy": policy.name},
            data={"job": job.number, "policy": policy.slug},
        )


def succeed_backup_job(
    job: BackupJob, *, actor=None, comment: str = "", data: dict | None = None, system_label=""
) -> BackupJob:
    """Mark a run successful; the policy's last good backup and RPO deadline follow (§11.3)."""
    return workflow.apply_transition(
        job,
        "succeed",
        actor=actor,
        comment=comment,
        data=data if data is not None else _transition_data(job, "succeed"),
        system_label=system_label,
        after=_after_success,
    )


def _succeed_from_ui(job, *, actor, comment, data):
    return succeed_backup_job(job, actor=actor, comment=comment, data=data)


def check_rpo(*, now: datetime | None = None, batch: int = 100) -> list[RpoBreach]:
    """§11.3 RPO: open one incident per policy whose last good backup is older than its RPO.

    Swept by beat over the indexed ``rpo_due_at``; the open-breach constraint makes a second
    sweep (or a concurrent one) a no-op until a good backup ends the breach.
    """
    now = now or timezone.now()
    open_breach = RpoBreach.objects.filter(policy=OuterRef("pk"), recovered_at__isnull=True)
    due = (
        BackupPolicy.objects.filter(is_active=True, rpo_minutes__isnull=False, rpo_due_at__lte=now)
        .exclude(Exists(open_breach))
        .order_by("rpo_due_at")
        .values_list("pk", flat=True)[:batch]
    )
    opened = []
    for pk in list(due):
        breach = _open_breach(pk, now)
        if breach is not None:
            opened.append(breach)
    return opened


def _open_breach(policy_pk: int, now: datetime) -> RpoBreach | None:
    with transaction.atomic():
        policy = (
            BackupPolicy.objects.select_for_update(of=("self",))
            .select_related("service")
            .get(pk=policy_pk)
        )
        if policy.rpo_due_at is None or policy.rpo_due_at > now:
            return None
        try:
            with transaction.atomic():
                breach = RpoBreach.objects.create(
                    policy=policy, detected_at=now, last_success_at=policy.last_success_at
                )
        except IntegrityError:
            return None  # another sweep recorded this breach first
        breach.incident = _open_rpo_incident(policy, now)
        breach.save(update_fields=["incident"])
        record_event(
            policy,
            action="rpo_breached",
            actor_label=SYSTEM,
            data={"incident": getattr(breach.incident, "number", None)},
        )
        return breach


def _open_rpo_incident(policy: BackupPolicy, now: datetime):
    try:
        from incidents.services import open_incident
    except ImportError:
        log.warning(
            "incidents.services.open_incident is missing; RPO breach of %s recorded "
            "without an incident",
            policy.slug,
        )
        return None
    last = policy.last_success_at
    with translation.override(settings.LANGUAGE_CODE):
        title = _("RPO breached: %(policy)s has no good backup within %(hours)s h") % {
            "policy": policy.name,
            "hours": round(policy.rpo_minutes / 60, 1),
        }
        description = _(
            "Last good backup: %(last)s. RPO: %(rpo)s minutes. Check the backup jobs of "
            "the policy and run a backup as soon as possible."
        ) % {
            "last": timezone.localtime(last).strftime("%Y-%m-%d %H:%M") if last else _("never"),
            "rpo": policy.rpo_minutes,
        }
    return open_incident(
        title=title,
        description=description,
        source="monitoring",
        service=policy.service,
        priority=policy.breach_priority,
        actor=None,
        system_label="backups.check_rpo",
        detected_at=now,
    )


def _expire(job: BackupJob) -> None:
    def remove_archive(j: BackupJob) -> None:
        path = j.archive_path
        if path:
            transaction.on_commit(lambda: _delete_archive(path))

    workflow.apply_transition(
        job, "expire", actor=None, system_label="backups.retention", after=remove_archive
    )


def _delete_archive(path: str) -> None:
    for candidate in path.split("\n"):
        try:
            Path(candidate).unlink(missing_ok=True)
        except OSError:
            log.exception("could not delete expired backup archive %s", candidate)


def jobs_past_retention(policy: BackupPolicy, *, now: datetime) -> list[BackupJob]:
    """The jobs retention lets go (§11.2 世代管理).

    Generations: the newest N good backups are kept. When the policy chains differential or
    incremental runs to a full one, a generation is a full run with the runs that follow it, so
    no kept differential loses its base. Days: good runs older than N days go. Failed runs go
    once they are older than the oldest kept good run.
    """
    good = list(policy.jobs.filter(state__in=BackupJob.GOOD_STATES).order_by("-finished_at", "-id"))
    n = policy.retention_count
    failed_cutoff = None
    if policy.retention_unit == RetentionUnit.DAYS:
        failed_cutoff = now - timedelta(days=n)
        expired = [j for j in good if (j.finished_at or j.created_at) < failed_cutoff]
    else:
        chained = policy.method != Method.FULL and any(j.kind == JobKind.FULL for j in good)
        generations = [j for j in good if j.kind == JobKind.FULL] if chained else good
        expired = []
        if len(generations) >= n:
            oldest_kept = generations[n - 1]
            expired = good[good.index(oldest_kept) + 1 :]
            failed_cutoff = oldest_kept.finished_at or oldest_kept.created_at
    if failed_cutoff is not None:
        expired += list(
            policy.jobs.filter(state=State.FAILED, finished_at__lt=failed_cutoff).order_by("id")
        )
    return expired


def expire_old_generations(
    *, now: datetime | None = None, policy: BackupPolicy | None = None
) -> int:
    """Expire the jobs past each active policy's retention; returns how many were expired."""
    now = now or timezone.now()
    policies = [policy] if policy is not None else BackupPolicy.objects.filter(is_active=True)
    count = 0
    for p in policies:
        for job in jobs_past_retention(p, now=now):
            try:
                _expire(job)
                count += 1
            except workflow.TransitionError:
                continue  # moved by someone else meanwhile; the next sweep looks again
    return count


# --- restore tests (§11.3 リカバリテスト: 頻度 四半期毎) -------------------------------------


def end_of_quarter(day: date) -> date:
    last_month = (day.month - 1) // 3 * 3 + 3
    return date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])


def _default_test_texts(policy: BackupPolicy) -> tuple[str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        target = _("Restore the latest good backup of %(name)s into an isolated environment") % {
            "name": policy.name
        }
        if policy.rto_minutes:
            criteria = _(
                "Data restored completely (checksums and record counts match) within the RTO "
                "of %(rto)s minutes"
            ) % {"rto": policy.rto_minutes}
        else:
            criteria = _("Data restored completely (checksums and record counts match)")
    return target, criteria


def plan_restore_test(
    policy: BackupPolicy,
    *,
    due_on: date,
    target: str = "",
    success_criteria: str = "",
    actor=None,
) -> RestoreTest:
    """§11.3 リカバリテスト: plan a test (target and criteria default from the policy's RTO)."""
    default_target, default_criteria = _default_test_texts(policy)
    with transaction.atomic():
        test = RestoreTest.objects.create(
            policy=policy,
            due_on=due_on,
            target=target.strip() or default_target,
            success_criteria=success_criteria.strip() or default_criteria,
        )
        if actor is not None:
            record_event(test, action="planned", actor=actor, data={"due_on": due_on.isoformat()})
    return test


def plan_restore_tests(*, today: date | None = None) -> list[RestoreTest]:
    """Every active policy always has its next restore test planned (first one: quarter end)."""
    today = today or timezone.localdate()
    open_test = RestoreTest.objects.filter(policy=OuterRef("pk"), state__in=RestoreTest.OPEN_STATES)
    planned = []
    for policy in BackupPolicy.objects.filter(is_active=True).exclude(Exists(open_test)):
        last = (
            policy.restore_tests.exclude(state__in=RestoreTest.OPEN_STATES)
            .order_by("-due_on")
            .first()
        )
        due = (
            _next_due(last, policy, today)
            if last
            else (
                end_of_quarter(today)
                if policy.restore_test_interval_months == 3
                else add_months(today, policy.restore_test_interval_months)
            )
        )
        planned.append(plan_restore_test(policy, due_on=due))
    return planned


def _next_due(test: RestoreTest, policy: BackupPolicy, today: date) -> date:
    """Keep the cadence from the last due date; a late test restarts it from today."""
    due = add_months(test.due_on, policy.restore_test_interval_months)
    return due if due > today else add_months(today, policy.restore_test_interval_months)


def _plan_next_after(test: RestoreTest) -> None:
    policy = test.policy
    if not policy.is_active:
        return
    if policy.restore_tests.filter(state__in=RestoreTest.OPEN_STATES).exclude(pk=test.pk).exists():
        return
    plan_restore_test(
        policy,
        due_on=_next_due(test, policy, timezone.localdate()),
        target=test.target,
        success_criteria=test.success_criteria,
    )


def record_restore_test(
    test: RestoreTest,
    *,
    passed: bool,
    actor,
    restore_minutes: int | None = None,
    notes: str = "",
    comment: str = "",
    backup_job: BackupJob | None = None,
    rto_exception_reason: str = "",
) -> RestoreTest:
    """Record a restore test's result and plan the next one (§11.3 四半期毎)."""
    if backup_job is not None:
        test.backup_job = backup_job
    data = {
        "restore_minutes": restore_minutes if restore_minutes is not None else "",
        "notes": notes or test.notes,
    }
    if passed:
        return pass_restore_test(
            test,
            actor=actor,
            comment=comment,
            data={**data, "rto_exception_reason": rto_exception_reason},
        )
    return workflow.apply_transition(
        test, "fail_test", actor=actor, comment=comment, data=data, after=_plan_next_after
    )


def pass_restore_test(test: RestoreTest, *, actor, comment: str = "", data: dict) -> RestoreTest:
    """§11.3 RTO: record a passed restore test; the next one is planned.

    A measured restore time over the policy's RTO fails the ``within_rto_or_excepted`` guard
    unless ``rto_exception_reason`` is given by an ops manager or the policy owner (anyone else
    offering one is refused, 403). The exception's reason, who granted it and when are kept on
    the test and audited as their own event.
    """
    reason = str(data.get("rto_exception_reason") or "").strip()
    if reason:
        if not may_grant_rto_exception(actor, test.policy):
            raise workflow.TransitionForbidden(
                _("Only an ops manager or the owner of %(policy)s may grant an RTO exception.")
                % {"policy": test.policy.name},
                transition="pass_test",
                field="rto_exception_reason",
            )
        test.rto_exception_by = actor
    data = data.copy()  # a QueryDict from the page stays one (its values are lists inside)
    data["rto_exception_reason"] = reason

    def after(t: RestoreTest) -> None:
        if t.has_rto_exception:
            record_event(
                t,
                action="rto_exception_granted",
                actor=actor,
                comment=t.rto_exception_reason,
                data={"restore_minutes": t.restore_minutes, "rto_minutes": t.policy.rto_minutes},
            )
        _plan_next_after(t)

    return workflow.apply_transition(
        test, "pass_test", actor=actor, comment=comment, data=data, after=after
    )


def _fail_from_ui(test, *, actor, comment, data):
    return workflow.apply_transition(
        test, "fail_test", actor=actor, comment=comment, data=data, after=_plan_next_after
    )


def notify_overdue_restore_tests(
    *, today: date | None = None, batch: int = 200
) -> list[RestoreTest]:
    """§11.3 リカバリテスト: a test past its due date is notified to its policy's owner, once.

    Swept by beat over the indexed ``due_on``; ``overdue_notified_at`` marks a test as told, and
    the notification key (one per test) keeps a crash between the two from notifying twice.
    A policy without an active owner is left for the sweep after an owner is set.
    """
    today = today or timezone.localdate()
    due = (
        RestoreTest.objects.filter(
            state__in=RestoreTest.OPEN_STATES,
            due_on__lt=today,
            overdue_notified_at__isnull=True,
            policy__owner__is_active=True,
        )
        .order_by("due_on", "id")
        .values_list("pk", flat=True)[:batch]
    )
    notified = []
    for pk in list(due):
        with transaction.atomic():
            test = (
                RestoreTest.objects.select_for_update(of=("self",))
                .select_related("policy__owner")
                .filter(pk=pk, overdue_notified_at__isnull=True)
                .first()
            )
            if test is None or test.state not in RestoreTest.OPEN_STATES:
                continue
            _notify_overdue(test, today)
            test.overdue_notified_at = timezone.now()
            RestoreTest.objects.filter(pk=pk).update(overdue_notified_at=test.overdue_notified_at)
            notified.append(test)
    return notified


def _notify_overdue(test: RestoreTest, today: date) -> None:
    owner = test.policy.owner
    notify(
        [owner],
        key=f"backups:restore-test-overdue:{test.number}",
        message="backups.restore_test_overdue",
        params={
            "number": test.number,
            "policy": test.policy.name,
            "due": test.due_on.isoformat(),
            "days": (today - test.due_on).days,
            "target": str(test.target),
        },
        url=test.get_absolute_url(),
    )
    record_event(
        test,
        action="overdue_notified",
        actor_label=SYSTEM,
        data={"owner": owner.username, "due_on": test.due_on.isoformat()},
    )


# --- DR drills (§11.4) -------------------------------------------------------------------


def record_dr_drill(
    scenario: DRScenario,
    *,
    held_on: date,
    result: str,
    actor,
    measured_minutes: int | None = None,
    findings: str = "",
) -> DRDrill:
    """§11.4 DR: record a drill of a switchover scenario and what it found; the plan's next
    drill is then due its interval after the latest drill held."""
    with transaction.atomic():
        drill = DRDrill.objects.create(
            scenario=scenario,
            held_on=held_on,
            result=result,
            measured_minutes=measured_minutes,
            findings=findings.strip(),
            conducted_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record_event(
            drill,
            action="recorded",
            actor=actor,
            data={
                "scenario": scenario.name,
                "result": result,
                "measured_minutes": measured_minutes,
                "within_target": drill.within_target,
            },
        )
        schedule_dr_drill(scenario.plan)
    return drill


def schedule_dr_drill(plan: DRPlan) -> DRPlan:
    """§11.4: the next drill of ``plan`` is due ``drill_interval_months`` calendar months after
    its latest drill (any scenario, any result: a drill that went badly was still held), or
    after the plan's creation while it has none. Called whenever a drill or the plan changes.
    """
    with transaction.atomic():
        plan = DRPlan.objects.select_for_update().get(pk=plan.pk)
        last = DRDrill.objects.filter(scenario__plan=plan).aggregate(at=Max("held_on"))["at"]
        due = plan.next_drill_due(last)
        if due != plan.drill_due_on:
            DRPlan.objects.filter(pk=plan.pk).update(drill_due_on=due)
            record_event(
                plan,
                action="drill_scheduled",
                actor_label=SYSTEM,
                data={"due_on": due.isoformat(), "last_drill": last.isoformat() if last else None},
            )
            plan.drill_due_on = due
    return plan


def notify_overdue_dr_drills(*, today: date | None = None, batch: int = 200) -> list[DRPlan]:
    """§11.4: a DR plan whose drill is past due is notified to its owner, once per due date.

    Swept by beat over the indexed ``drill_due_on``; ``drill_overdue_notified_on`` remembers the
    due date told about (a drill held moves the due date, and the next lapse is told again), and
    the notification key (plan + due date) keeps a crash between the two from notifying twice.
    A plan without an active owner is left for the sweep after an owner is set.
    """
    today = today or timezone.localdate()
    due = (
        DRPlan.objects.filter(drill_due_on__lt=today, owner__is_active=True)
        .exclude(drill_overdue_notified_on=F("drill_due_on"))
        .order_by("drill_due_on", "id")
        .values_list("pk", flat=True)[:batch]
    )
    notified = []
    for pk in list(due):
        with transaction.atomic():
            plan = (
                DRPlan.objects.select_for_update(of=("self",))
                .select_related("owner")
                .filter(pk=pk, drill_due_on__lt=today)
                .exclude(drill_overdue_notified_on=F("drill_due_on"))
                .first()
            )
            if plan is None:
                continue
            _notify_overdue_drill(plan, today)
            DRPlan.objects.filter(pk=pk).update(drill_overdue_notified_on=plan.drill_due_on)
            plan.drill_overdue_notified_on = plan.drill_due_on
            notified.append(plan)
    return notified


def _notify_overdue_drill(plan: DRPlan, today: date) -> None:
    owner = plan.owner
    notify(
        [owner],
        key=f"backups:dr-drill-overdue:{plan.pk}:{plan.drill_due_on.isoformat()}",
        message="backups.dr_drill_overdue",
        params={
            "plan": plan.name,
            "due": plan.drill_due_on.isoformat(),
            "days": (today - plan.drill_due_on).days,
            "months": plan.drill_interval_months,
        },
        url=plan.get_absolute_url(),
    )
    record_event(
        plan,
        action="drill_overdue_notified",
        actor_label=SYSTEM,
        data={"owner": owner.username, "due_on": plan.drill_due_on.isoformat()},
    )


# --- the built-in executor for the portal's own database ----------------------------------

DEFAULT_BACKUP_DIR = Path(settings.BASE_DIR) / "var" / "backups"


class BackupFailed(RuntimeError):
    pass


def _directories(policy: BackupPolicy) -> list[tuple[StorageLocation | None, Path]]:
    dirs = []
    for loc in policy.locations.all():
        if loc.path and "://" not in loc.path:
            path = Path(loc.path)
            dirs.append((loc, path if path.is_absolute() else Path(settings.BASE_DIR) / path))
    return dirs or [(None, DEFAULT_BACKUP_DIR)]


def _dump_sqlite(target: Path) -> None:
    if connection.in_atomic_block:
        # The backup API waits forever for a write transaction of its own connection to end.
        raise BackupFailed("the SQLite backup cannot run inside a transaction")
    connection.ensure_connection()
    source = connection.connection
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupFailed(f"{name} not found on PATH (install the PostgreSQL client tools)")
    return path


def _pg_env() -> tuple[list[str], dict]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    return args, env


def _dump_postgres(target: Path) -> None:
    args, env = _pg_env()
    db = settings.DATABASES["default"]
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [_binary("pg_dump"), "--format=custom", "--file", str(target), *args, str(db["NAME"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=6 * 3600,
        check=False,
    )
    if result.returncode != 0:
        raise BackupFailed(f"pg_dump failed: {result.stderr.strip()[:2000]}")


def _verify_plain(path: Path, engine: str) -> None:
    """A full read of the archive: every page (SQLite) or every table's data (pg_restore)."""
    if "sqlite" in engine:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (result,) = conn.execute("PRAGMA integrity_check").fetchone()
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        finally:
            conn.close()
        if result != "ok" or tables == 0:
            raise BackupFailed(f"verification failed: integrity_check={result}, tables={tables}")
        return
    result = subprocess.run(  # noqa: S603
        [_binary("pg_restore"), "--file", os.devnull, str(path)],
        capture_output=True,
        text=True,
        timeout=6 * 3600,
        check=False,
    )
    if result.returncode != 0:
        raise BackupFailed(f"verification failed: {result.stderr.strip()[:2000]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def portal_policy() -> BackupPolicy | None:
    return (
        BackupPolicy.objects.filter(target_kind=TargetKind.PORTAL_DATABASE, is_active=True)
        .order_by("display_order", "id")
        .first()
    )


def run_portal_backup(policy: BackupPolicy | None = None, *, actor=None) -> BackupJob:
    """Back up the portal's own database to each local location of the policy (§11.1 3-2-1).

    The dump is taken with the SQLite backup API (embedded mode) or ``pg_dump --format=custom``,
    encrypted with ``BACKUP_ENCRYPTION_KEY`` when set, copied to every local location, its
    SHA-256 recorded, then verified by reading the whole archive back. Retention follows.
    """
    policy = policy or portal_policy()
    if policy is None or policy.target_kind != TargetKind.PORTAL_DATABASE:
        raise BackupFailed(_("No active portal-database backup policy."))
    engine = settings.DATABASES["default"]["ENGINE"]
    label = "backups.executor"
    job = BackupJob.objects.create(
        policy=policy,
        kind=JobKind.FULL,
        scheduled_for=timezone.now(),
        reported_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    workflow.apply_transition(job, "start", actor=None, system_label=label)
    key = crypto.configured_key()
    suffix = ".sqlite3" if "sqlite" in engine else ".dump"
    stamp = timezone.localtime(job.started_at).strftime("%Y%m%dT%H%M%S")
    name = f"{job.number}-{stamp}{suffix}{'.enc' if key else ''}"
    try:
        with tempfile.TemporaryDirectory(prefix="itsm-backup-") as tmp:
            plain = Path(tmp) / f"dump{suffix}"
            if "sqlite" in engine:
                _dump_sqlite(plain)
            elif "postgresql" in engine:
                _dump_postgres(plain)
            else:
                raise BackupFailed(f"unsupported database engine {engine}")
            _verify_plain(plain, engine)
            archive = plain
            if key:
                archive = Path(tmp) / name
                crypto.encrypt_file(plain, archive, key)
                check = Path(tmp) / f"check{suffix}"
                crypto.decrypt_file(archive, check, key)
                _verify_plain(check, engine)
            written, stored_at = [], []
            for location, directory in _directories(policy):
                directory.mkdir(parents=True, exist_ok=True)
                target = directory / name
                shutil.copyfile(archive, target)
                written.append(target)
                if location is not None:
                    stored_at.append(location)
            checksum = _sha256(archive)
            for target in written:
                if _sha256(target) != checksum:
                    raise BackupFailed(f"copy at {target} does not match the archive")
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
        log.exception("portal backup %s failed", job.number)
        job.error = f"{exc.__class__.__name__}: {exc}"[:5000]
        workflow.apply_transition(
            job, "fail", actor=None, data={"error": job.error}, system_label=label
        )
        return job
    job.size_bytes = written[0].stat().st_size
    job.checksum = f"sha256:{checksum}"
    job.archive_path = "\n".join(str(p) for p in written)
    job.encrypted = bool(key)
    job.finished_at = timezone.now()
    job.save()
    job.locations.set(stored_at)
    succeed_backup_job(job, actor=None, system_label=label)
    workflow.apply_transition(job, "verify", actor=None, system_label=label)
    expire_old_generations(policy=policy)
    return job


def schedule_next_run(policy: BackupPolicy, *, after: datetime | None = None) -> None:
    nxt = policy.next_scheduled_run(after)
    BackupPolicy.objects.filter(pk=policy.pk).update(next_run_at=nxt)
    policy.next_run_at = nxt


def run_due_portal_backups(*, now: datetime | None = None) -> list[BackupJob]:
    """Beat sweep: run the portal backup whose ``next_run_at`` has come (claimed first, so a
    second beat or a redelivered message finds nothing due)."""
    now = now or timezone.now()
    jobs = []
    due = BackupPolicy.objects.filter(
        target_kind=TargetKind.PORTAL_DATABASE, is_active=True, next_run_at__lte=now
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            policy = (
                BackupPolicy.objects.select_for_update().filter(pk=pk, next_run_at__lte=now).first()
            )
            if policy is None:
                continue
            schedule_next_run(policy, after=now)
        jobs.append(run_portal_backup(policy))
    return jobs


# How each transition is applied when asked for by name (``itsm.core.workflow.perform``).
TRANSITIONS = {
    BackupJob: {
        "start": workflow.PLAIN,
        "succeed": _succeed_from_ui,
        "fail": workflow.PLAIN,
        "verify": workflow.PLAIN,
        "expire": workflow.PLAIN,
    },
    RestoreTest: {
        "start": workflow.PLAIN,
        "pass_test": pass_restore_test,
        "fail_test": _fail_from_ui,
    },
}
