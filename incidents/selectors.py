"""Read queries shared by the HTML pages, the API and the home page (STYLE.md §4)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    Expression,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from .choices import IncidentState, PostmortemKind, PostmortemState, Priority, SlaStatus
from .models import ActionItem, Incident, Postmortem

LIST_RELATED = ("service", "assignee", "team")


def incidents() -> QuerySet[Incident]:
    return Incident.objects.select_related(*LIST_RELATED)


URGENCY_BUCKET = Case(
    When(state=IncidentState.DETECTED, then=Value(0)),
    When(state=IncidentState.CLOSED, then=Value(2)),
    default=Value(1),
    output_field=IntegerField(),
)
URGENCY_DUE = Case(
    When(state=IncidentState.CLOSED, then=Value(None)),
    default=F("response_due_at"),
)


def _bucket_of(state: str) -> int:
    if state == IncidentState.DETECTED:
        return 0
    return 2 if state == IncidentState.CLOSED else 1


def by_response_urgency(qs: QuerySet[Incident], states=()) -> QuerySet[Incident]:
    """Open incidents first, the nearest response deadline first; untriaged ones lead (they
    have no deadline yet and need a person now); closed ones last, newest first.

    The three sort keys are exactly the expression index ``incident_list_urgency``
    (migrations/0006_list_indexes.py), so a page is an index walk at any table size: change
    one, change the other (tests/incidents/test_views.py checks the plan on PostgreSQL).
    ``states`` (the list's state filter) lets the walk start at its bucket: with only closed
    states it skips the open incidents instead of reading and discarding each of them."""
    buckets = {_bucket_of(state) for state in states}
    if len(buckets) == 1:
        qs = qs.alias(_bucket=URGENCY_BUCKET).filter(_bucket=buckets.pop())
    return qs.order_by(URGENCY_BUCKET.asc(), URGENCY_DUE.asc(nulls_last=True), F("id").desc())


def filter_sla(qs: QuerySet[Incident], status: str, now=None) -> QuerySet[Incident]:
    """The SLA status of :attr:`Incident.sla_status` as a query (computed on read)."""
    now = now or timezone.now()
    pending = Q(response_due_at__isnull=True)
    started_late = Q(response_started_at__gt=F("response_due_at"))
    waiting_late = Q(response_started_at__isnull=True, response_due_at__lt=now)
    if status == SlaStatus.PENDING:
        return qs.filter(pending)
    if status == SlaStatus.BREACHED:
        return qs.filter(started_late | waiting_late)
    if status == SlaStatus.MET:
        return qs.filter(response_started_at__lte=F("response_due_at"))
    if status == SlaStatus.ON_TRACK:
        return qs.filter(response_started_at__isnull=True, response_due_at__gte=now)
    return qs


def triage_queue() -> QuerySet[Incident]:
    """§8.3.2: incidents still waiting for triage, oldest detection first."""
    return incidents().filter(state=IncidentState.DETECTED).order_by("detected_at", "id")


def timeline_for(incident: Incident):
    return incident.timeline.select_related("actor").order_by("at", "id")


def overdue_postmortems(now=None) -> QuerySet[Postmortem]:
    return Postmortem.objects.overdue(now).select_related("incident", "owner").order_by("due_at")


def overdue_action_items(today=None) -> QuerySet[ActionItem]:
    today = today or timezone.localdate()
    return (
        ActionItem.objects.filter(done=False, due_date__lt=today)
        .select_related("postmortem", "postmortem__incident", "owner")
        .order_by("due_date")
    )


def my_queue(user) -> dict[str, list]:
    """The home page's "my work" section: my open incidents, my action items, postmortems I owe.

    Each list is bounded (the home page shows the most urgent few)."""
    if not getattr(user, "is_authenticated", False):
        return {"incidents": [], "action_items": [], "postmortems": []}
    my_incidents = by_response_urgency(incidents().open().filter(assignee=user))[:20]
    items = (
        ActionItem.objects.filter(owner=user, done=False)
        .select_related("postmortem", "postmortem__incident")
        .order_by(F("due_date").asc(nulls_last=True), "id")[:20]
    )
    owed = (
        Postmortem.objects.unpublished()
        .filter(owner=user)
        .select_related("incident")
        .order_by(F("due_at").asc(nulls_last=True), "id")[:20]
    )
    return {"incidents": list(my_incidents), "action_items": list(items), "postmortems": list(owed)}


def my_open_items(user) -> list[dict]:
    """The home page's "my work" card (contract in itsm/views.py): my incidents by response
    urgency, then the postmortems I owe and my open action items."""
    from django.utils.translation import gettext as _

    queue = my_queue(user)
    items = [
        {
            "number": i.number,
            "title": i.title,
            "url": i.get_absolute_url(),
            "state_label": i.get_state_display(),
            "due": i.response_due_at if i.response_started_at is None else None,
        }
        for i in queue["incidents"]
    ]
    items += [
        {
            "number": p.number,
            "title": p.incident.title,
            "url": p.get_absolute_url(),
            "state_label": p.get_state_display(),
            "due": p.due_at,
        }
        for p in queue["postmortems"]
    ]
    items += [
        {
            "number": a.postmortem.number,
            "title": f"{_('Action item')}: {a.title}",
            "url": a.postmortem.get_absolute_url(),
            "state_label": _("Open"),
            "due": None,
        }
        for a in queue["action_items"]
    ]
    return items


# --- metrics (dashboard)
# Definitions: docs/metrics.md. Each family returns plain data (dicts, lists, numbers) for a
# period [since, until) and an optional service slug; the HTML dashboard, /api/v1/metrics/ and
# the CSV export all read these. Percentiles are computed by PostgreSQL (percentile_cont) where
# available, by the same linear interpolation in Python elsewhere (SQLite); the number of
# queries never depends on the number of rows.

PERCENTILES = {"p50": 0.5, "p90": 0.9}
# Rows are counted by a non-null column of the covering index (never the id), so PostgreSQL can
# answer from the index alone (incidents/migrations/0003_metrics_indexes.py).
COUNTED = "detected_at"
# duration name → (end field, start field), both on the incident
INCIDENT_DURATIONS = {
    "mtta": ("response_started_at", "detected_at"),  # §8.1: detection → response start
    "mttr": ("recovered_at", "detected_at"),  # detection → recovery (まず復旧)
}


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``.

    NULLs are ignored, so an incident not yet responded to simply does not count."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        super().__init__(expression, fraction=fraction, output_field=DurationField(), **extra)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The same interpolation as PostgreSQL's percentile_cont, for the other databases."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _minutes(value) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return round(seconds / 60, 1)


def grouped_stats(
    qs: QuerySet,
    *,
    group: dict[str, Expression | str] | None = None,
    counts: dict[str, Q] | None = None,
    durations: dict[str, tuple[str, str]] | None = None,
    counted: str = "pk",
) -> list[dict]:
    """Conditional counts and duration percentiles (minutes) of ``qs`` per ``group``.

    One query on PostgreSQL; two elsewhere (the durations are read and interpolated in Python).
    Without ``group`` the result is a single row for the whole queryset."""
    group, counts, durations = group or {}, counts or {}, durations or {}
    names = list(group)
    base = qs.annotate(**{k: v for k, v in group.items() if not isinstance(v, str)})
    keys = [v if isinstance(v, str) else k for k, v in group.items()]
    in_db = connections[qs.db].vendor == "postgresql"
    aggregates = {name: Count(counted, filter=q or None) for name, q in counts.items()}
    for name, (end, start) in durations.items():
        aggregates[f"{name}_n"] = Count(counted, filter=Q(**{f"{end}__isnull": False}))
        if in_db:
            for label, fraction in PERCENTILES.items():
                aggregates[f"{name}_{label}"] = PercentileCont(F(end) - F(start), fraction)
    if keys:
        rows = list(base.values(*keys).annotate(**aggregates).order_by(*keys))
        for row in rows:
            for name, key in zip(names, keys, strict=True):
                row[name] = row.pop(key) if name != key else row[key]
    else:
        rows = [base.aggregate(**aggregates)]
    if durations and not in_db:
        samples: dict[tuple, dict[str, list[float]]] = {}
        fields = [f for pair in durations.values() for f in pair]
        for values in base.values_list(*keys, *fields):
            key, times = tuple(values[: len(keys)]), values[len(keys) :]
            bucket = samples.setdefault(key, {name: [] for name in durations})
            for i, name in enumerate(durations):
                end, start = times[2 * i], times[2 * i + 1]
                if end is not None and start is not None:
                    bucket[name].append((end - start).total_seconds())
        for row in rows:
            bucket = samples.get(tuple(row[n] for n in names), {})
            for name in durations:
                for label, fraction in PERCENTILES.items():
                    row[f"{name}_{label}"] = percentile_cont(bucket.get(name, []), fraction)
    for row in rows:
        for name in durations:
            for label in PERCENTILES:
                row[f"{name}_{label}"] = _minutes(row.get(f"{name}_{label}"))
    return rows


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def detected_in(since: datetime, until: datetime, service: str = "") -> QuerySet[Incident]:
    """The cohort of every incident figure: incidents detected in [since, until)."""
    qs = Incident.objects.filter(detected_at__gte=since, detected_at__lt=until)
    return qs.filter(service__slug=service) if service else qs


def _sla_counts(now: datetime) -> dict[str, Q]:
    return {
        "total": Q(),
        "met": Q(response_started_at__lte=F("response_due_at")),
        "breached": Q(response_started_at__gt=F("response_due_at"))
        | Q(response_started_at__isnull=True, response_due_at__lt=now),
        "on_track": Q(response_started_at__isnull=True, response_due_at__gte=now),
        "untriaged": Q(response_due_at__isnull=True),
        "open": ~Q(state=IncidentState.CLOSED),
    }


def _sla_row(row: dict) -> dict:
    judged = row["met"] + row["breached"]
    return {
        "total": row["total"],
        "open": row["open"],
        "met": row["met"],
        "breached": row["breached"],
        "on_track": row["on_track"],
        "untriaged": row["untriaged"],
        "compliance": _share(row["met"], judged),
        "mtta_p50": row["mtta_p50"],
        "mtta_p90": row["mtta_p90"],
        "mtta_n": row["mtta_n"],
        "mttr_p50": row["mttr_p50"],
        "mttr_p90": row["mttr_p90"],
        "mttr_n": row["mttr_n"],
    }


def incident_metrics(
    *, since: datetime, until: datetime, service: str = "", now: datetime | None = None
) -> dict:
    """Incidents by priority and state, response SLA compliance, MTTA/MTTR (median, p90) per
    priority and overall, and the daily trend; docs/metrics.md § Incidents."""
    now = now or timezone.now()
    cohort = detected_in(since, until, service)
    counts = _sla_counts(now)
    by_priority = {
        row["priority"]: _sla_row(row)
        for row in grouped_stats(
            cohort,
            group={"priority": "priority"},
            counts=counts,
            durations=INCIDENT_DURATIONS,
            counted=COUNTED,
        )
    }
    (overall,) = grouped_stats(cohort, counts=counts, durations=INCIDENT_DURATIONS, counted=COUNTED)
    empty = _sla_row({**dict.fromkeys(counts, 0), **_empty_durations()})
    priorities = {p.value: by_priority.get(p.value, empty) for p in Priority}
    state_rows = cohort.values("priority", "state").annotate(n=Count(COUNTED)).order_by()
    states = {s.value: 0 for s in IncidentState}
    by_priority_state = {p.value: dict(states) for p in Priority}
    for row in state_rows:
        states[row["state"]] += row["n"]
        if row["priority"] in by_priority_state:
            by_priority_state[row["priority"]][row["state"]] += row["n"]
    return {
        "overall": _sla_row(overall),
        "by_priority": priorities,
        "untriaged_total": by_priority.get("", empty)["total"],
        "by_state": states,
        "by_priority_state": by_priority_state,
        "trend": incident_trend(cohort, since=since, until=until, now=now),
    }


def _empty_durations() -> dict:
    row = {}
    for name in INCIDENT_DURATIONS:
        row[f"{name}_n"] = 0
        for label in PERCENTILES:
            row[f"{name}_{label}"] = None
    return row


def incident_trend(
    cohort: QuerySet[Incident], *, since: datetime, until: datetime, now: datetime
) -> list[dict]:
    """One point per local calendar day of the period (days without incidents included):
    MTTA/MTTR medians, compliance, and the number detected per priority (stacked bars)."""
    tz = timezone.get_current_timezone()
    day = TruncDate("detected_at", tzinfo=tz)
    stats = {
        row["day"]: row
        for row in grouped_stats(
            cohort,
            group={"day": day},
            counts={k: v for k, v in _sla_counts(now).items() if k in ("met", "breached")},
            durations=INCIDENT_DURATIONS,
            counted=COUNTED,
        )
    }
    per_priority: dict = {}
    rows = cohort.annotate(day=day).values("day", "priority").annotate(n=Count(COUNTED)).order_by()
    for row in rows:
        per_priority.setdefault(row["day"], {})[row["priority"] or "untriaged"] = row["n"]
    points = []
    current, last = timezone.localtime(since, tz).date(), timezone.localtime(until, tz).date()
    if timezone.localtime(until, tz).time() == datetime.min.time():
        last -= timedelta(days=1)  # until is exclusive
    while current <= last:
        row = stats.get(current, {})
        counts = per_priority.get(current, {})
        points.append(
            {
                "day": current.isoformat(),
                "compliance": _share(row.get("met", 0), row.get("met", 0) + row.get("breached", 0)),
                "mtta_p50": row.get("mtta_p50"),
                "mttr_p50": row.get("mttr_p50"),
                "by_priority": {
                    p: counts.get(p, 0) for p in [*(x.value for x in Priority), "untriaged"]
                },
            }
        )
        current += timedelta(days=1)
    return points


def escalation_metrics(*, since: datetime, until: datetime, service: str = "") -> dict:
    """Escalations by level among the incidents detected in the period.

    Today the incident carries only its current level (``escalation_level``; L1 is where every
    incident starts, so "escalated" means level ≥ 2). When the escalation engine (issue 4)
    stores each step, count the steps by level and reason here instead; the returned shape
    (``by_level``, ``by_reason``, ``escalated``) stays the same."""
    rows = (
        detected_in(since, until, service)
        .filter(escalation_level__isnull=False)
        .values("escalation_level")
        .annotate(n=Count(COUNTED))
        .order_by("escalation_level")
    )
    by_level = {f"L{level}": 0 for level in range(1, 6)}
    for row in rows:
        by_level[f"L{row['escalation_level']}"] = row["n"]
    escalated = sum(n for level, n in by_level.items() if level != "L1")
    return {"by_level": by_level, "by_reason": {}, "escalated": escalated}


def postmortem_metrics(
    *, since: datetime, until: datetime, service: str = "", now: datetime | None = None
) -> dict:
    """P1/P2 postmortems due in the period and whether they were published by their due time,
    plus what is overdue now (postmortems and action items)."""
    now = now or timezone.now()
    due = Postmortem.objects.filter(
        kind=PostmortemKind.POSTMORTEM,
        incident__priority__in=[Priority.P1, Priority.P2],
        due_at__gte=since,
        due_at__lt=until,
    )
    overdue_pm = Postmortem.objects.overdue(now)
    overdue_items = ActionItem.objects.filter(done=False, due_date__lt=timezone.localdate(now))
    if service:
        due = due.filter(incident__service__slug=service)
        overdue_pm = overdue_pm.filter(incident__service__slug=service)
        overdue_items = overdue_items.filter(postmortem__incident__service__slug=service)
    published = Q(state=PostmortemState.PUBLISHED)
    row = due.aggregate(
        total=Count("pk"),
        on_time=Count("pk", filter=published & Q(published_at__lte=F("due_at"))),
        late=Count("pk", filter=published & Q(published_at__gt=F("due_at"))),
        overdue=Count("pk", filter=~published & Q(due_at__lt=now)),
        not_yet_due=Count("pk", filter=~published & Q(due_at__gte=now)),
    )
    judged = row["on_time"] + row["late"] + row["overdue"]
    return {
        "due_in_period": row["total"],
        "on_time": row["on_time"],
        "late": row["late"],
        "overdue_in_period": row["overdue"],
        "not_yet_due": row["not_yet_due"],
        "completion_within_due": _share(row["on_time"], judged),
        "overdue_postmortems_now": overdue_pm.count(),
        "overdue_action_items_now": overdue_items.count(),
    }
