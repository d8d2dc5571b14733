"""Read queries of release management: lists, the calendar, the pipeline view, DORA inputs."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    RowRange,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from changes.choices import IncidentRelation
from changes.models import FreezeWindow, IncidentLink
from itsm.core.roles import Role, has_role
from itsm.core.stats import percentile_cont, share

from .choices import FAILED_RESULTS, FINISHED_RESULTS, DeploymentResult, ReleaseType, Stage
from .models import Deployment, DeploymentIncident, Environment, Release, ReleaseSlot


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
                failed_deployments=sum(1 for d in deployments if d.result in FAILED_RESULTS),
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


def freeze_windows(start: dt.datetime, end: dt.datetime) -> QuerySet:
    """The change calendar's freeze windows overlapping ``[start, end)`` (§9: no changes,
    hence no production releases, while one is in force)."""
    return (
        FreezeWindow.objects.filter(starts_at__lt=end, ends_at__gt=start)
        .prefetch_related("services")
        .order_by("starts_at")
    )


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
    - change failure rate: failed changes — production deployments that failed, were rolled
      back or are linked as the cause of an incident — over all production deployments;
    - lead time for changes: median from each shipped commit's time to its production
      deployment's finish; when a deployment lists no commits, from the release's creation.
    """
    figures = _production_inputs(since=since, until=until, service=service)
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
        **figures,
        "releases_rolled_back": rollbacks.count(),
        "hotfixes_in_production": hotfixes.count(),
    }


# --------------------------------------------------------------------------- incident links


def incident_links(deployment: Deployment) -> QuerySet:
    return deployment.incident_links.select_related("incident", "linked_by")


def release_incident_links(release: Release) -> QuerySet:
    """Every incident ↔ causing-deployment link of a release, for its detail page."""
    return (
        DeploymentIncident.objects.filter(deployment__release=release)
        .select_related("incident", "deployment__environment", "linked_by")
        .order_by("-created_at")
    )


def incident_caused_failures(*, since: dt.datetime, until: dt.datetime, service: str = "") -> dict:
    """DORA inputs from the incident → causing-deployment links, for the production
    deployments (final results only) that started in ``[since, until)``.

    - ``caused_incident_ids``: deployments linked to at least one incident. DORA counts them
      as failed changes even when the deployment itself reported success, so the change fail
      rate's numerator is ``failed_deployment_ids`` (failed, rolled back or incident-causing).
    - ``recovery_hours``: per incident-causing deployment, hours from its finish to the
      recovery of the last of its incidents (``Incident.recovered_at``); ``unrecovered`` counts
      those with an incident not yet recovered. The failed-deployment recovery time takes
      these samples alongside the ones measured from failed deployments.
    - ``rework_deployment_ids``: deployments made because a deployment caused an incident:
      rollbacks (``rollback_of``) of an incident-causing deployment, and deployments of the
      same service made while such an incident was open (detected, not yet recovered).
    """
    production = _production(since=since, until=until, service=service)
    links = (
        DeploymentIncident.objects.filter(deployment__in=production)
        .select_related("deployment", "incident")
        .order_by("deployment_id")
    )
    by_deployment: dict[int, list] = {}
    for link in links:
        by_deployment.setdefault(link.deployment_id, []).append(link)
    recovery_hours: list[float] = []
    unrecovered = 0
    for deployment_links in by_deployment.values():
        deployment = deployment_links[0].deployment
        recovered = [link.incident.recovered_at for link in deployment_links]
        if any(t is None for t in recovered):
            unrecovered += 1
            continue
        done = deployment.finished_at or deployment.started_at
        recovery_hours.append(max((max(recovered) - done).total_seconds(), 0) / 3600)
    failed = set(production.filter(result__in=FAILED_RESULTS).values_list("pk", flat=True))
    caused = set(by_deployment)
    rework = set(
        production.annotate(**_incident_rework_annotations())
        .filter(_incident_rework())
        .values_list("pk", flat=True)
    )
    return {
        "caused_incident_ids": sorted(caused),
        "failed_deployment_ids": sorted(failed | caused),
        "recovery_hours": [round(h, 2) for h in recovery_hours],
        "unrecovered": unrecovered,
        "rework_deployment_ids": sorted(rework),
    }


# --- metrics (dashboard)
# Definitions: docs/metrics.md § Releases and § DORA. Plain data for a period [since, until) and
# an optional service slug, shared by the dashboard page, /api/v1/metrics/ and the CSV export.


def cadence_metrics(
    *, since: dt.datetime, until: dt.datetime, service: str = "", now: dt.datetime | None = None
) -> dict:
    """§10.2 release cadence adherence: of the planned slots that started in the period (and
    are past), the share used by a release that reached production."""
    now = now or timezone.now()
    shipped = Release.objects.filter(slot=OuterRef("pk"), production_at__isnull=False)
    if service:
        shipped = shipped.filter(service__slug=service)
    rows = (
        ReleaseSlot.objects.filter(starts_at__gte=since, starts_at__lt=min(until, now))
        .annotate(used=Exists(shipped))
        .values("release_type")
        .annotate(slots=Count("pk"), used_slots=Count("pk", filter=Q(used=True)))
        .order_by()
    )
    by_type = {
        t.value: {"slots": 0, "used": 0, "adherence": None}
        for t in ReleaseType
        if t != ReleaseType.HOTFIX
    }
    for row in rows:
        by_type[row["release_type"]] = {
            "slots": row["slots"],
            "used": row["used_slots"],
            "adherence": share(row["used_slots"], row["slots"]),
        }
    slots = sum(v["slots"] for v in by_type.values())
    used = sum(v["used"] for v in by_type.values())
    return {"slots": slots, "used": used, "adherence": share(used, slots), "by_type": by_type}


# DORA performance clusters as published in the 2024 Accelerate State of DevOps report
# (dora.dev). Each entry: (tier, upper bound); the first bound the value does not exceed wins.
DORA_REPORT_YEAR = 2024
DORA_TIERS = {
    # successful production deployments per day, lower bounds (higher is better)
    "deployment_frequency": [("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30), ("low", 0)],
    # hours, upper bounds: < 1 day, < 1 week, < 1 month, beyond
    "change_lead_time": [("elite", 24), ("high", 24 * 7), ("medium", 24 * 30), ("low", None)],
    # share, upper bounds as the report's cluster figures 5 % / 10 % (medium) / 20 % (high) / 40 %
    "change_fail_rate": [("elite", 0.05), ("medium", 0.10), ("high", 0.20), ("low", None)],
    # hours, upper bounds: < 1 hour, < 1 day (high and medium share it), < 1 week, beyond
    "failed_deployment_recovery_time": [
        ("elite", 1),
        ("high", 24),
        ("medium", 24 * 7),
        ("low", None),
    ],
}


def dora_tier(metric: str, value: float | None) -> str | None:
    """The DORA cluster a value falls in, per :data:`DORA_TIERS`; None without data."""
    if value is None or metric not in DORA_TIERS:
        return None
    if metric == "deployment_frequency":
        return next(tier for tier, floor in DORA_TIERS[metric] if value >= floor)
    for tier, bound in DORA_TIERS[metric]:
        if bound is None or value <= bound:
            return tier
    return None


def _production(*, since: dt.datetime, until: dt.datetime, service: str = "") -> QuerySet:
    """The production deployments with an outcome that started in ``[since, until)``: the
    population of every DORA figure. Queued and in-progress reports are not outcomes yet."""
    deployments = Deployment.objects.filter(
        environment__code=Stage.PRODUCTION,
        started_at__gte=since,
        started_at__lt=until,
        result__in=FINISHED_RESULTS,
    )
    return deployments.filter(release__service__slug=service) if service else deployments


def _caused_incident(deployment: str = "pk") -> Exists:
    """The deployment (``OuterRef(deployment)``) is linked as the cause of an incident."""
    return Exists(DeploymentIncident.objects.filter(deployment=OuterRef(deployment)))


def _incident_rework() -> Q:
    """Rework read from the incident → deployment links (annotate with
    :func:`_incident_rework_annotations` first): a rollback of a deployment that caused an
    incident, or a deployment of the same service made while such an incident was open
    (detected, not yet recovered)."""
    return Q(rolls_back_cause=True) | Q(during_caused_incident=True)


def _incident_rework_annotations() -> dict:
    open_incident = (
        DeploymentIncident.objects.filter(
            deployment__release__service=OuterRef("release__service"),
            incident__detected_at__lte=OuterRef("started_at"),
        )
        .filter(
            Q(incident__recovered_at__isnull=True)
            | Q(incident__recovered_at__gt=OuterRef("started_at"))
        )
        .exclude(deployment=OuterRef("pk"))
    )
    return {
        "rolls_back_cause": _caused_incident("rollback_of"),
        "during_caused_incident": Exists(open_incident),
    }


def _production_inputs(*, since: dt.datetime, until: dt.datetime, service: str = "") -> dict:
    """Production deployment figures (frequency, failure rate, lead time) as :func:`dora_inputs`
    defines them, read as plain column values (no model instances: ~1,000 deployments a month at
    the benchmark's scale). The one place these definitions are computed.

    A failed change is a deployment that failed or was rolled back, or one linked as the cause
    of an incident (``DeploymentIncident``) even though it reported success."""
    total = succeeded = failed = caused = failed_changes = 0
    lead_times: list[float] = []
    rows = (
        _production(since=since, until=until, service=service)
        .annotate(caused=_caused_incident())
        .order_by()
        .values_list(
            "result", "caused", "started_at", "finished_at", "commits", "release__created_at"
        )
    )
    for result, is_cause, started_at, finished_at, commits, release_created_at in rows:
        total += 1
        caused += is_cause
        failed += result in FAILED_RESULTS
        failed_changes += result in FAILED_RESULTS or is_cause
        if result != DeploymentResult.SUCCEEDED:
            continue
        succeeded += 1
        done = finished_at or started_at
        commit_times = [_parse_time(c.get("committed_at")) for c in commits if isinstance(c, dict)]
        for t in [t for t in commit_times if t is not None] or [release_created_at]:
            lead_times.append(max((done - t).total_seconds(), 0) / 3600)
    days = max((until - since).total_seconds() / 86400, 1)
    return {
        "production_deployments": total,
        "successful_production_deployments": succeeded,
        "failed_production_deployments": failed,
        "incident_causing_deployments": caused,
        "failed_changes": failed_changes,
        "deployments_per_day": round(succeeded / days, 3),
        "change_failure_rate": round(failed_changes / total, 3) if total else None,
        "lead_time_hours_median": round(statistics.median(lead_times), 2) if lead_times else None,
        "lead_time_samples": len(lead_times),
    }


def dora_metrics(*, since: dt.datetime, until: dt.datetime, service: str = "") -> dict:
    """The five DORA metrics over the production deployments that started in the period,
    each with its tier (report year :data:`DORA_REPORT_YEAR`)."""
    inputs = _production_inputs(since=since, until=until, service=service)
    production = _production(since=since, until=until, service=service)
    # Rework: a deployment made because of an incident — a hotfix, a release carrying a change
    # recorded as fixing an incident, a rollback of a deployment that caused an incident, or a
    # deployment of the same service while an incident caused by a deployment was open.
    fixes_incident = IncidentLink.objects.filter(
        change__releases=OuterRef("release"), relation=IncidentRelation.FIXED_BY
    )
    rework = (
        production.annotate(fixes=Exists(fixes_incident), **_incident_rework_annotations())
        .filter(Q(release__release_type=ReleaseType.HOTFIX) | Q(fixes=True) | _incident_rework())
        .count()
    )
    # Recovery: from a failed (or rolled back) production deployment to the next successful
    # production deployment of the same service. One pass with a window function over the
    # production deployments since the period's start (the next success may come after it).
    # The later deployments are walked newest first with the frame anchored at the partition's
    # start (every row before this one), so the running MIN is incremental: linear, where a
    # frame "1 following … unbounded following" re-reads the rest of the partition per row.
    done = Coalesce("finished_at", "started_at")
    next_success = Window(
        Min(Case(When(result=DeploymentResult.SUCCEEDED, then=done))),
        partition_by=[F("release__service_id")],
        order_by=[F("started_at").desc(), F("id").desc()],
        frame=RowRange(start=None, end=-1),
    )
    since_start = Deployment.objects.filter(
        environment__code=Stage.PRODUCTION, started_at__gte=since, result__in=FINISHED_RESULTS
    )
    if service:
        since_start = since_start.filter(release__service__slug=service)
    rows = since_start.annotate(recovered_at=next_success).values_list(
        "started_at", "result", "recovered_at"
    )
    recovery_hours, unrecovered = [], 0
    for started_at, result, recovered_at in rows:
        if started_at >= until or result == DeploymentResult.SUCCEEDED:
            continue
        if recovered_at is None:
            unrecovered += 1
        else:
            recovery_hours.append((recovered_at - started_at).total_seconds() / 3600)
    # A deployment that reported success but caused an incident recovers with its incidents:
    # from its finish to the recovery of the last one (unrecovered while any is open).
    caused: dict[int, list] = {}
    links = DeploymentIncident.objects.filter(
        deployment__in=production.filter(result=DeploymentResult.SUCCEEDED)
    ).values_list(
        "deployment_id",
        "deployment__started_at",
        "deployment__finished_at",
        "incident__recovered_at",
    )
    for deployment_id, started_at, finished_at, recovered_at in links:
        caused.setdefault(deployment_id, [finished_at or started_at]).append(recovered_at)
    for done, *recovered in caused.values():
        if any(t is None for t in recovered):
            unrecovered += 1
        else:
            recovery_hours.append(max((max(recovered) - done).total_seconds(), 0) / 3600)
    recovery = percentile_cont(recovery_hours, 0.5)
    recovery = None if recovery is None else round(recovery, 2)
    figures = {
        "deployment_frequency": inputs["deployments_per_day"],
        "change_lead_time": inputs["lead_time_hours_median"],
        "change_fail_rate": inputs["change_failure_rate"],
        "failed_deployment_recovery_time": recovery,
        "deployment_rework_rate": share(rework, inputs["production_deployments"]),
    }
    units = {
        "deployment_frequency": "per_day",
        "change_lead_time": "hours",
        "change_fail_rate": "ratio",
        "failed_deployment_recovery_time": "hours",
        "deployment_rework_rate": "ratio",
    }
    return {
        "report_year": DORA_REPORT_YEAR,
        "metrics": {
            name: {"value": value, "unit": units[name], "tier": dora_tier(name, value)}
            for name, value in figures.items()
        },
        "production_deployments": inputs["production_deployments"],
        "successful_production_deployments": inputs["successful_production_deployments"],
        "failed_production_deployments": inputs["failed_production_deployments"],
        "incident_causing_deployments": inputs["incident_causing_deployments"],
        "failed_changes": inputs["failed_changes"],
        "lead_time_samples": inputs["lead_time_samples"],
        "recovered_failures": len(recovery_hours),
        "unrecovered_failures": unrecovered,
        "rework_deployments": rework,
    }
