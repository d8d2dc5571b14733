"""Read queries of release management: lists, the calendar, the pipeline view, DORA inputs."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from itsm.core.roles import Role, has_role

from .choices import DeploymentResult, Stage
from .models import Deployment, Environment, Release, ReleaseSlot


def release_list(
    *, state: str = "", release_type: str = "", service: str = "", q: str = ""
) -> QuerySet:
    qs = Release.objects.select_related("service", "owner", "slot")
    if state:
        qs = qs.filter(state=state)
    if release_type:
        qs = qs.filter(release_type=release_type)
    if service:
        qs = qs.filter(service__slug=service)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(name__icontains=q) | Q(version__icontains=q))
    return qs


def release_detail(number: str) -> QuerySet:
    return (
        Release.objects.select_related("service", "owner", "slot")
        .prefetch_related(
            "changes",
            Prefetch(
                "deployments",
                queryset=Deployment.objects.select_related("environment", "reported_by"),
            ),
        )
        .filter(number=number)
    )


@dataclass
class PipelineStage:
    environment: Environment
    status: str  # done / current / pending / failed / skipped
    deployments: list = field(default_factory=list)
    failures: int = 0
    failed_deployments: int = 0


STAGE_INDEX = {code: i for i, code in enumerate([s.value for s in Stage])}


def pipeline(release: Release) -> list[PipelineStage]:
    """The five environments of §10.3 as stages of this release, for the stepper."""
    environments = list(Environment.objects.all())
    by_env: dict[int, list] = {}
    for d in release.deployments.all():
        by_env.setdefault(d.environment_id, []).append(d)
    state = release.state
    if state == Release.State.COMPLETED:
        current = len(STAGE_INDEX)  # past the last stage
    elif state == Release.State.ROLLED_BACK:
        current = None
    else:
        current = STAGE_INDEX.get(state, -1)
    stages = []
    for env in environments:
        index = STAGE_INDEX.get(env.code, 0)
        deployments = by_env.get(env.pk, [])
        if env.code == Stage.CANARY and release.canary_skipped:
            status = "skipped"
        elif current is None:
            rolled_from = next(
                (
                    d.environment.code
                    for d in release.deployments.all()
                    if d.result == DeploymentResult.ROLLED_BACK
                ),
                Stage.CANARY,
            )
            rolled_index = STAGE_INDEX[rolled_from]
            status = (
                "failed"
                if index == rolled_index
                else ("done" if index < rolled_index else "pending")
            )
        elif index < current:
            status = "done"
        elif index == current:
            status = "current"
        else:
            status = "pending"
        stages.append(
            PipelineStage(
                environment=env,
                status=status,
                deployments=deployments,
                failures=release.failures_at(env.code),
                failed_deployments=sum(
                    1 for d in deployments if d.result != DeploymentResult.SUCCEEDED
                ),
            )
        )
    return stages


def calendar_items(start: dt.datetime, end: dt.datetime) -> tuple[QuerySet, QuerySet]:
    """Slots and releases planned in ``[start, end)`` for the release calendar."""
    slots = (
        ReleaseSlot.objects.filter(starts_at__gte=start, starts_at__lt=end)
        .annotate(release_count=Count("releases"))
        .order_by("starts_at")
    )
    releases = (
        Release.objects.filter(planned_at__gte=start, planned_at__lt=end)
        .select_related("service")
        .order_by("planned_at")
    )
    return slots, releases


def upcoming_slots(release_type: str = "", *, now: dt.datetime | None = None) -> QuerySet:
    qs = ReleaseSlot.objects.filter(starts_at__gte=now or timezone.now()).order_by("starts_at")
    return qs.filter(release_type=release_type) if release_type else qs


def releases_for(user) -> QuerySet:
    """For the home page: open releases the user owns, plus — for whoever may promote to
    production (ops leader and above) — releases waiting in canary or staging."""
    qs = Release.objects.filter(state__in=Release.OPEN_STATES).select_related("service")
    mine = Q(owner=user)
    if has_role(user, Role.OPS_LEADER, Role.OPS_MANAGER):
        mine |= Q(state__in=[Release.State.CANARY, Release.State.PRODUCTION])
    return qs.filter(mine).order_by("planned_at")


def my_open_items(user) -> list[dict]:
    """The home page's "my work" card (contract in itsm/views.py)."""
    return [
        {
            "number": r.number,
            "title": r.name,
            "url": r.get_absolute_url(),
            "state_label": r.get_state_display(),
            "due": r.planned_at,
        }
        for r in releases_for(user)[:50]
    ]


# --------------------------------------------------------------------------- DORA


def _parse_time(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        return parsed
    return None


def dora_inputs(*, since: dt.datetime, until: dt.datetime, service: str = "") -> dict:
    """What the DORA metrics need, per the production deployments in ``[since, until)``.

    - deployment frequency: successful production deployments per day;
    - change failure rate: production deployments that failed or were rolled back, over all
      production deployments;
    - lead time for changes: median from each shipped commit's time to its production
      deployment's finish; when a deployment lists no commits, from the release's creation.
    """
    deployments = Deployment.objects.filter(
        environment__code=Stage.PRODUCTION,
        started_at__gte=since,
        started_at__lt=until,
    ).select_related("release")
    if service:
        deployments = deployments.filter(release__service__slug=service)
    total = failed = succeeded = 0
    lead_times: list[float] = []
    for d in deployments:
        total += 1
        if d.result == DeploymentResult.SUCCEEDED:
            succeeded += 1
            done = d.finished_at or d.started_at
            commit_times = [
                _parse_time(c.get("committed_at")) for c in d.commits if isinstance(c, dict)
            ]
            commit_times = [t for t in commit_times if t is not None]
            for t in commit_times or [d.release.created_at]:
                lead_times.append(max((done - t).total_seconds(), 0) / 3600)
        else:
            failed += 1
    days = max((until - since).total_seconds() / 86400, 1)
    rollbacks = Release.objects.filter(rolled_back_at__gte=since, rolled_back_at__lt=until)
    hotfixes = Release.objects.filter(
        release_type="hotfix", production_at__gte=since, production_at__lt=until
    )
    if service:
        rollbacks = rollbacks.filter(service__slug=service)
        hotfixes = hotfixes.filter(service__slug=service)
    return {
        "since": since,
        "until": until,
        "service": service or None,
        "production_deployments": total,
        "successful_production_deployments": succeeded,
        "failed_production_deployments": failed,
        "deployments_per_day": round(succeeded / days, 3),
        "change_failure_rate": round(failed / total, 3) if total else None,
        "lead_time_hours_median": round(statistics.median(lead_times), 2) if lead_times else None,
        "lead_time_samples": len(lead_times),
        "releases_rolled_back": rollbacks.count(),
        "hotfixes_in_production": hotfixes.count(),
    }
