"""Release management use cases (seed §10).

- ``create_release``: a release for a planned slot (§10.2) or, for a hotfix, any time.
- ``promote_release``: move a release to the next environment of the release flow (§10.3).
- ``fail_stage``: NG in an environment: testing/staging → development, canary → rolled back.
- ``roll_back_release``: roll a release back and record the rollback deployment.
- ``record_deployment``: a deployment reported by hand or by a CI/CD pipeline (idempotent on the
  pipeline run id); a successful deployment moves the release into that environment when the
  rules allow.
- ``link_causing_deployment`` / ``unlink_causing_deployment``: record (or correct) which
  deployment caused an incident (§8 ↔ §10, a DORA input).
- ``fill_release_slots``: keep the planned release slots of every cadence filled for its horizon.
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import record_event
from itsm.core.business_calendar import current_calendar

from .choices import FINISHED_RESULTS, DeploymentResult, Frequency, ReleaseType, Stage
from .models import (
    Deployment,
    DeploymentIncident,
    Environment,
    Release,
    ReleaseCadence,
    ReleaseSlot,
)

# The forward transition out of each state (§10.3 開発 → テスト → ステージング → カナリア → 本番).
NEXT_TRANSITION = {
    Release.State.PLANNED: "start_development",
    Release.State.DEVELOPMENT: "promote_to_testing",
    Release.State.TESTING: "promote_to_staging",
    Release.State.STAGING: "promote_to_canary",
    Release.State.CANARY: "promote_to_production",
    Release.State.PRODUCTION: "complete",
}

# The transition that brings a release INTO an environment (used when a deployment succeeds).
ENTER_TRANSITION = {
    Stage.DEVELOPMENT: "start_development",
    Stage.TESTING: "promote_to_testing",
    Stage.STAGING: "promote_to_staging",
    Stage.CANARY: "promote_to_canary",
    Stage.PRODUCTION: "promote_to_production",
}

FAIL_TRANSITION = {
    Release.State.TESTING: "fail_testing",
    Release.State.STAGING: "fail_staging",
}


# --------------------------------------------------------------------------- create


def create_release(
    *,
    actor,
    service,
    name: str,
    version: str,
    release_type: str,
    strategy: str,
    owner=None,
    slot: ReleaseSlot | None = None,
    planned_at: dt.datetime | None = None,
    strategy_rationale: str = "",
    scope: str = "",
    notes: str = "",
    changes=(),
) -> Release:
    """Create a release. §10.2: regular releases take a slot of their type's cadence (or an
    explicit date); a hotfix (随時) goes any time and never takes a slot."""
    errors: dict[str, list[str]] = {}
    if slot is not None:
        if release_type == ReleaseType.HOTFIX:
            errors["slot"] = [_("A hotfix is released any time and takes no slot.")]
        elif slot.release_type != release_type:
            errors["slot"] = [
                _("This slot is for %(type)s releases.") % {"type": slot.get_release_type_display()}
            ]
        planned_at = planned_at or slot.starts_at
    if planned_at is None:
        if release_type == ReleaseType.HOTFIX:
            planned_at = timezone.now()
        else:
            errors["planned_at"] = [_("Choose a release slot or a planned date.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        release = Release.objects.create(
            name=name,
            version=version,
            release_type=release_type,
            service=service,
            slot=slot,
            planned_at=planned_at,
            strategy=strategy,
            strategy_rationale=strategy_rationale,
            scope=scope,
            notes=notes,
            owner=owner or actor,
        )
        if changes:
            release.changes.set(changes)
        record_event(release, action="created", actor=actor, to_state=release.state)
    return release


# --------------------------------------------------------------------------- lifecycle


def promote_release(
    release: Release, *, actor, comment: str = "", skip_canary: bool = False
) -> Release:
    """Move ``release`` to the next environment (§10.3). From staging, ``skip_canary`` goes
    straight to production, allowed only when the strategy is not canary; the skip is recorded
    on the release. Entering production needs an approved change covering now."""
    name = NEXT_TRANSITION.get(release.state)
    if skip_canary and release.state == Release.State.STAGING:
        name = "skip_canary"
    if name is None:
        raise workflow.TransitionNotAllowed(
            _("A %(state)s release has no next stage.") % {"state": release.get_state_display()},
            transition="promote",
        )
    return workflow.perform(release, name, actor=actor, comment=comment)


def fail_stage(release: Release, *, actor, reason: str, version: str = "") -> Release:
    """NG in the current environment (§10.3): testing or staging goes back to development
    with the failure counted; canary (or production) is rolled back."""
    if release.state in (Release.State.CANARY, Release.State.PRODUCTION):
        return roll_back_release(release, actor=actor, reason=reason, version=version)
    name = FAIL_TRANSITION.get(release.state)
    if name is None:
        raise workflow.TransitionNotAllowed(
            _("A %(state)s release cannot fail a stage.") % {"state": release.get_state_display()},
            transition="fail_stage",
        )
    return workflow.apply_transition(release, name, actor=actor, comment=reason)


def roll_back_release(
    release: Release,
    *,
    actor,
    reason: str,
    version: str = "",
    reported_via: str = "",
    system_label: str = "",
) -> Release:
    """§10.3 カナリア NG → ロールバック: move to rolled_back and record the rollback as a
    deployment of the environment it was rolled back in (result ``rolled_back``)."""
    environment = (
        Environment.objects.get(code=release.state)
        if release.state
        in (
            Release.State.CANARY,
            Release.State.PRODUCTION,
        )
        else None
    )

    def record_rollback(instance: Release) -> None:
        if environment is None:
            return
        now = timezone.now()
        Deployment.objects.create(
            release=instance,
            environment=environment,
            version=version or instance.version,
            result=DeploymentResult.ROLLED_BACK,
            started_at=now,
            finished_at=now,
            reported_by=actor if getattr(actor, "is_authenticated", False) else None,
            reported_via=reported_via,
            notes=reason,
        )

    return workflow.apply_transition(
        release,
        "roll_back",
        actor=actor,
        comment=reason,
        system_label=system_label,
        after=record_rollback,
    )


def _roll_back_from_ui(release: Release, *, actor, comment: str, data: dict) -> Release:
    return roll_back_release(release, actor=actor, reason=comment)


PRODUCTION_GUARD = "has_approved_change_covering_now"


def _explain_production_refusal(release: Release, exc: workflow.TransitionError) -> None:
    """The production guard's message is general; give the change gate's own answer (which
    change, which window, what is missing) — the same text a pipeline gets from the gate."""
    if isinstance(exc, workflow.GuardFailed) and exc.extra.get("guard") == PRODUCTION_GUARD:
        exc.message = release.production_decision().detail
        exc.args = (exc.message,)


def _enter_production(release: Release, *, actor, comment: str = "", data=None) -> Release:
    name = "skip_canary" if release.state == Release.State.STAGING else "promote_to_production"
    try:
        return workflow.apply_transition(release, name, actor=actor, comment=comment, data=data)
    except workflow.TransitionError as exc:
        _explain_production_refusal(release, exc)
        raise


# --------------------------------------------------------------------------- deployments


@dataclass
class DeploymentOutcome:
    deployment: Deployment
    created: bool
    advanced: bool = False
    refusal: workflow.TransitionError | None = None


def record_deployment(
    *,
    release: Release,
    environment: Environment,
    version: str,
    result: str,
    actor=None,
    reported_via: str = "",
    started_at: dt.datetime | None = None,
    finished_at: dt.datetime | None = None,
    external_id: str = "",
    external_url: str = "",
    repository_url: str = "",
    log_url: str = "",
    commit_sha: str = "",
    commits: list | None = None,
    rollback_of: Deployment | None = None,
    notes: str = "",
    advance: bool = True,
) -> DeploymentOutcome:
    """Record a deployment (§10.1 自動化されたデプロイメントプロセス).

    Idempotent on ``external_id`` (the pipeline run id): a repeated report updates the same row,
    so a run reports ``queued`` → ``in_progress`` → ``succeeded`` on one row; a late interim
    report never overwrites a final result.

    When ``advance`` is set, a *successful* deployment moves the release into that environment
    if the release is one stage before it and the transition's rules (permission, guards) pass;
    a ``rolled_back`` report in canary/production rolls the release back. A refused move leaves
    the deployment recorded and the refusal in ``outcome.refusal`` — except in production, where
    a deployment the rules do not allow is refused outright (``workflow.GuardFailed`` /
    ``TransitionNotAllowed`` raised, nothing recorded, an audit event written): production
    needs an approved change (§9 ↔ §10). Interim production reports are checked the same way,
    so a pipeline learns of the refusal before it deploys.

    ``rollback_of`` marks a rollback run: once it succeeded, the deployment it rolls back is
    marked ``rolled_back`` and the release, if still in that environment, is rolled back.
    """
    now = timezone.now()
    if started_at is None:
        started_at = min(now, finished_at) if finished_at else now
    if finished_at is not None and finished_at < started_at:
        raise ValidationError({"finished_at": [_("The end cannot be before the start.")]})
    if finished_at is None and result in (DeploymentResult.SUCCEEDED, DeploymentResult.FAILED):
        finished_at = max(now, started_at)
    if rollback_of is not None:
        _check_rollback_target(rollback_of, release, environment, external_id)
    fields = {
        "release": release,
        "environment": environment,
        "version": version,
        "result": result,
        "started_at": started_at,
        "finished_at": finished_at,
        "reported_by": actor if getattr(actor, "is_authenticated", False) else None,
        "reported_via": reported_via,
        "external_url": external_url,
        "repository_url": repository_url,
        "log_url": log_url,
        "commit_sha": commit_sha,
        "commits": commits or [],
        "rollback_of": rollback_of,
        "notes": notes,
    }
    if external_id:
        existing = Deployment.objects.filter(external_id=external_id).first()
        if existing is not None:
            if existing.release_id != release.pk or existing.environment_id != environment.pk:
                raise ValidationError(
                    {
                        "external_id": [
                            _("This pipeline run was reported for another release or environment.")
                        ]
                    }
                )
            late_interim = existing.is_finished and result not in FINISHED_RESULTS
            if existing.result == result or late_interim:
                return DeploymentOutcome(existing, created=False)
            return _store_and_advance(release, environment, fields, actor, advance, existing)
    try:
        return _store_and_advance(
            release, environment, fields | {"external_id": external_id}, actor, advance, None
        )
    except IntegrityError:
        # A concurrent retry of the same pipeline run won the insert: replay it.
        existing = (
            Deployment.objects.filter(external_id=external_id).first() if external_id else None
        )
        if existing is None:
            raise
        return DeploymentOutcome(existing, created=False)


def _check_rollback_target(
    target: Deployment, release: Release, environment: Environment, external_id: str
) -> None:
    errors = []
    if external_id and target.external_id == external_id:
        errors.append(_("A deployment cannot roll back itself."))
    elif target.environment_id != environment.pk:
        errors.append(_("The rolled back deployment was made to another environment."))
    elif target.release_id != release.pk:
        errors.append(
            _("The rolled back deployment belongs to %(number)s; report the rollback there.")
            % {"number": target.release.number}
        )
    if errors:
        raise ValidationError({"rollback_of": errors})


def _move_for(
    release: Release, environment: Environment, result: str, rollback: bool = False
) -> str | None:
    """The transition a reported deployment implies, or None when it implies none.

    Raises ``TransitionNotAllowed`` for a production deployment of a release that is not in
    canary or staging: production is never reached by skipping the pipeline. An interim
    (queued / in progress) production report raises what the final one would, without moving."""
    state, env = release.state, environment.code
    if rollback or result == DeploymentResult.ROLLED_BACK:
        rolls_back = rollback is False or result in (
            DeploymentResult.SUCCEEDED,
            DeploymentResult.ROLLED_BACK,
        )
        if rolls_back and state == env and state in PRODUCTION_SIDE:
            return "roll_back"
        return None
    if result == DeploymentResult.FAILED or state == env:
        return None
    if env == Stage.PRODUCTION:
        if state == Release.State.CANARY:
            name = "promote_to_production"
        elif state == Release.State.STAGING:
            name = "skip_canary"
        elif state == Release.State.COMPLETED:
            return None
        else:
            raise workflow.TransitionNotAllowed(
                _(
                    "A %(state)s release cannot be deployed to production; "
                    "it must pass staging first."
                )
                % {"state": release.get_state_display()},
                transition="promote_to_production",
            )
        if result != DeploymentResult.SUCCEEDED:
            _preflight(release, name)
            return None
        return name
    if result != DeploymentResult.SUCCEEDED:
        return None
    name = ENTER_TRANSITION[env]
    return name if _from_state_allows(release, name) else None


PRODUCTION_SIDE = (Release.State.CANARY, Release.State.PRODUCTION)


def _preflight(release: Release, name: str) -> None:
    """Raise what applying ``name`` would raise for its guards, without applying it."""
    meta = getattr(type(release), name)._django_fsm
    failed = workflow.failed_guards(release, meta.get_transition(release.state))
    if failed:
        raise workflow.GuardFailed(
            failed[0]["message"], guard=failed[0]["guard"], guards=list(failed)
        )


def _store_and_advance(release, environment, fields, actor, advance, existing) -> DeploymentOutcome:
    label = fields.get("reported_via") or ""
    # A pipeline moves the release as itself (the clock/system path): its authority is the token's
    # add_deployment permission plus the transition's guards, above all the approved change.
    mover = None if label else actor
    system_label = f"pipeline:{label}" if label else ""  # shown by itsm.core.audit.actor_label
    release.refresh_from_db()
    rollback_of = fields.get("rollback_of")

    def save_deployment(instance=None) -> Deployment:
        if existing is not None:
            for key, value in fields.items():
                setattr(existing, key, value)
            existing.save()
            deployment = existing
        else:
            deployment = Deployment.objects.create(**fields)
        if (
            rollback_of is not None
            and deployment.result in (DeploymentResult.SUCCEEDED, DeploymentResult.ROLLED_BACK)
            and rollback_of.result != DeploymentResult.ROLLED_BACK
        ):
            rollback_of.result = DeploymentResult.ROLLED_BACK
            rollback_of.finished_at = rollback_of.finished_at or deployment.started_at
            rollback_of.save(update_fields=["result", "finished_at"])
        return deployment

    try:
        move = (
            _move_for(release, environment, fields["result"], rollback=rollback_of is not None)
            if advance
            else None
        )
        if move is None:
            with transaction.atomic():
                deployment = save_deployment()
            return DeploymentOutcome(deployment, created=existing is None)
        holder: dict[str, Deployment] = {}
        comment = _("Deployment of %(version)s to %(env)s.") % {
            "version": fields["version"],
            "env": environment.name,
        }
        if move == "roll_back":
            comment = fields["notes"] or (
                _("Rollback of deployment %(id)s.") % {"id": rollback_of.pk}
                if rollback_of is not None
                else comment
            )
        workflow.apply_transition(
            release,
            move,
            actor=mover,
            comment=comment,
            system_label=system_label,
            after=lambda instance: holder.setdefault("d", save_deployment()),
        )
        return DeploymentOutcome(holder["d"], created=existing is None, advanced=True)
    except workflow.TransitionError as refusal:
        if environment.code == Stage.PRODUCTION:
            _explain_production_refusal(release, refusal)
            record_event(
                release,
                action="production_deployment_refused",
                actor=actor,
                actor_label=system_label,
                comment=refusal.message,
                data={"version": fields["version"], "external_id": fields.get("external_id", "")},
            )
            raise
        with transaction.atomic():
            deployment = save_deployment()
        return DeploymentOutcome(deployment, created=existing is None, refusal=refusal)


def _from_state_allows(release: Release, name: str) -> bool:
    method = getattr(type(release), name)
    return method._django_fsm.has_transition(release.state)


# --------------------------------------------------------------------------- incidents


def link_causing_deployment(
    deployment: Deployment, *, incident, actor, note: str = "", linked_via: str = ""
) -> tuple[DeploymentIncident, bool]:
    """Record that ``deployment`` caused ``incident`` (DORA: a failed change; the incident's
    recovery ends the failed-deployment recovery time). Linking the same pair again returns
    the existing link (``created`` False). Audited on the release and on the incident."""
    with transaction.atomic():
        link, created = DeploymentIncident.objects.get_or_create(
            deployment=deployment,
            incident=incident,
            defaults={
                "note": note,
                "linked_by": actor if getattr(actor, "is_authenticated", False) else None,
                "linked_via": linked_via,
            },
        )
        if created:
            data = {"deployment": deployment.pk, "incident": incident.number}
            for subject in (deployment.release, incident):
                record_event(
                    subject,
                    action="causing_deployment_linked",
                    actor=actor,
                    comment=note,
                    data=data,
                )
    return link, created


def unlink_causing_deployment(link: DeploymentIncident, *, actor) -> None:
    """Remove a wrong incident ↔ deployment link; audited on both sides."""
    data = {"deployment": link.deployment_id, "incident": link.incident.number}
    with transaction.atomic():
        for subject in (link.deployment.release, link.incident):
            record_event(subject, action="causing_deployment_unlinked", actor=actor, data=data)
        link.delete()


# --------------------------------------------------------------------------- cadence


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    day = 1 + offset + 7 * (n - 1)
    last = pycalendar.monthrange(year, month)[1]
    if day > last:  # n-th weekday does not exist (n ≤ 4 always exists; kept for safety)
        day -= 7
    return dt.date(year, month, day)


def _add_months(d: dt.date, months: int) -> dt.date:
    index = d.year * 12 + d.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def slot_dates(cadence: ReleaseCadence, start: dt.date, end: dt.date) -> list[dt.date]:
    """The nominal dates of ``cadence`` in ``[start, end]`` (before the business-day shift)."""
    if cadence.frequency == Frequency.ANY_TIME:
        return []
    dates: list[dt.date] = []
    if cadence.frequency == Frequency.WEEKLY:
        day = start + dt.timedelta(days=(cadence.weekday - start.weekday()) % 7)
        while day <= end:
            dates.append(day)
            day += dt.timedelta(days=7)
        return dates
    month = dt.date(start.year, start.month, 1)
    while month <= end:
        in_quarter = (month.month - 1) % 3 + 1
        if cadence.frequency == Frequency.MONTHLY or in_quarter == cadence.month_of_quarter:
            day = _nth_weekday(month.year, month.month, cadence.weekday, cadence.week_of_month)
            if start <= day <= end:
                dates.append(day)
        month = _add_months(month, 1)
    return dates


def fill_release_slots(*, now: dt.datetime | None = None) -> int:
    """Create the missing release slots of every active cadence up to its horizon (§10.2).

    A slot on a holiday or company closure moves to the next business day. Safe to run twice:
    slots are unique per (type, start). Returns the number of slots created."""
    now = now or timezone.now()
    calendar = current_calendar()
    tz = calendar.tz
    today = timezone.localtime(now, tz).date()
    created = 0
    for cadence in ReleaseCadence.objects.filter(is_active=True):
        end = _add_months(today, cadence.horizon_months + 1) - dt.timedelta(days=1)
        for day in slot_dates(cadence, today, end):
            shifted = day
            for _i in range(14):
                if calendar.is_business_day(shifted):
                    break
                shifted += dt.timedelta(days=1)
            starts_at = dt.datetime.combine(shifted, cadence.time_of_day, tzinfo=tz)
            if starts_at < now:
                continue
            _slot, was_created = ReleaseSlot.objects.get_or_create(
                release_type=cadence.release_type,
                starts_at=starts_at,
                defaults={
                    "cadence": cadence,
                    "ends_at": starts_at + dt.timedelta(minutes=cadence.duration_minutes),
                },
            )
            created += was_created
    return created


EDITABLE_FIELDS = (
    "name",
    "version",
    "planned_at",
    "strategy",
    "strategy_rationale",
    "scope",
    "notes",
    "owner",
)


def update_release(release: Release, *, actor, changes=None, **fields) -> Release:
    """Edit a release's plan (not its state); what changed is audited."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    changed = {}
    for name, value in fields.items():
        old = getattr(release, name)
        if old != value:
            changed[name] = [str(old), str(value)]
            setattr(release, name, value)
    with transaction.atomic():
        if changed:
            release.save()
        if changes is not None:
            before = sorted(release.changes.values_list("number", flat=True))
            release.changes.set(changes)
            after = sorted(c.number for c in changes)
            if before != after:
                changed["changes"] = [before, after]
        if changed:
            record_event(release, action="updated", actor=actor, data=changed)
    return release


# How each transition is applied when asked for by name (``itsm.core.workflow.perform``).
TRANSITIONS = {
    Release: {
        "start_development": workflow.PLAIN,
        "promote_to_testing": workflow.PLAIN,
        "fail_testing": workflow.PLAIN,
        "promote_to_staging": workflow.PLAIN,
        "fail_staging": workflow.PLAIN,
        "rework": workflow.PLAIN,
        "promote_to_canary": workflow.PLAIN,
        "skip_canary": _enter_production,
        "promote_to_production": _enter_production,
        "roll_back": _roll_back_from_ui,
        "complete": workflow.PLAIN,
    },
}
