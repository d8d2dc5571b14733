"""Read queries shared by the HTML pages, the API and the home page (STYLE.md §4)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Expression,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from itsm.core.stats import (
    PERCENTILES,
    EpochSeconds,
    grouped_stats,
    minutes,
    percentile_cont,
    share,
)

from .choices import (
    IncidentState,
    PostmortemKind,
    PostmortemState,
    Priority,
    ReviewState,
    SlaStatus,
)
from .models import (
    MANUAL_REASONS,
    ActionItem,
    EscalationReason,
    EscalationStep,
    FixFollowUp,
    Incident,
    IncidentReview,
    Postmortem,
    StepKind,
)

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


def sla_conditions(now: datetime) -> dict[str, Q]:
    """Each SLA status of :attr:`Incident.sla_status` as a condition (they partition the
    incidents). Nobody responded and the monitor recovered the incident before its deadline:
    *auto-recovered*, not judged; recovered only after the deadline: breached (the deadline
    passed with nobody on it)."""
    unanswered = Q(response_started_at__isnull=True)
    not_auto = Q(recovered_at__isnull=True) | Q(recovered_at__gt=F("response_due_at"))
    return {
        SlaStatus.PENDING: Q(response_due_at__isnull=True),
        SlaStatus.MET: Q(response_started_at__lte=F("response_due_at")),
        SlaStatus.BREACHED: Q(response_started_at__gt=F("response_due_at"))
        | (unanswered & Q(response_due_at__lt=now) & not_auto),
        SlaStatus.ON_TRACK: unanswered & Q(response_due_at__gte=now) & not_auto,
        SlaStatus.AUTO_RECOVERED: unanswered & Q(recovered_at__lte=F("response_due_at")),
    }


def filter_sla(qs: QuerySet[Incident], status: str, now=None) -> QuerySet[Incident]:
    """The SLA status of :attr:`Incident.sla_status` as a query (computed on read)."""
    condition = sla_conditions(now or timezone.now()).get(status)
    return qs if condition is None else qs.filter(condition)


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
        return {
            "incidents": [],
            "action_items": [],
            "postmortems": [],
            "reviews": [],
            "fix_follow_ups": [],
        }
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
    reviews = (
        IncidentReview.objects.filter(
            owner=user, state=ReviewState.PENDING, incident__state=IncidentState.CLOSED
        )
        .select_related("incident")
        .order_by(F("due_at").asc(nulls_last=True), "id")[:20]
    )
    # §8.2: closed on recovery by a workaround, the root-cause fix still to come.
    fixes = (
        FixFollowUp.objects.open()
        .filter(owner=user)
        .select_related("incident")
        .order_by(F("due_date").asc(nulls_last=True), "id")[:20]
    )
    return {
        "incidents": list(my_incidents),
        "action_items": list(items),
        "postmortems": list(owed),
        "reviews": list(reviews),
        "fix_follow_ups": list(fixes),
    }


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
            "number": r.incident.number,
            "title": f"{_('Review')}: {r.incident.title}",
            "url": r.get_absolute_url(),
            "state_label": r.get_state_display(),
            "due": r.due_at,
        }
        for r in queue["reviews"]
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
    items += [
        {
            "number": f.incident.number,
            "title": f"{_('Root cause fix')}: {f.incident.title}",
            "url": f.incident.get_absolute_url() + "#fix",
            "state_label": _("Workaround only"),
            "due": None,
        }
        for f in queue["fix_follow_ups"]
    ]
    return items


# --- metrics (dashboard)
# Definitions: docs/metrics.md. Each family returns plain data (dicts, lists, numbers) for a
# period [since, until) and an optional service slug; the HTML dashboard, /api/v1/metrics/ and
# the CSV export all read these. Percentiles are computed by PostgreSQL (percentile_cont) where
# available, by the same linear interpolation in Python elsewhere (SQLite); the number of
# queries never depends on the number of rows.

# Rows are counted by a non-null column of the covering index (never the id), so PostgreSQL can
# answer from the index alone (incidents/migrations/0003_metrics_indexes.py).
COUNTED = "detected_at"
# duration name → (end field, start field), both on the incident
INCIDENT_DURATIONS = {
    "mtta": ("response_started_at", "detected_at"),  # §8.1: detection → response start
    "mttr": ("recovered_at", "detected_at"),  # detection → recovery (まず復旧)
}


def detected_in(since: datetime, until: datetime, service: str = "") -> QuerySet[Incident]:
    """The cohort of every incident figure: incidents detected in [since, until)."""
    qs = Incident.objects.filter(detected_at__gte=since, detected_at__lt=until)
    return qs.filter(service__slug=service) if service else qs


def _sla_counts(now: datetime) -> dict[str, Q]:
    sla = sla_conditions(now)
    return {
        "total": Q(),
        "met": sla[SlaStatus.MET],
        "breached": sla[SlaStatus.BREACHED],
        "on_track": sla[SlaStatus.ON_TRACK],
        "untriaged": sla[SlaStatus.PENDING],
        "auto_recovered": sla[SlaStatus.AUTO_RECOVERED],
        # Issue 18: the resolution target, judged on the stored deadline (holds taken into
        # account; empty while on hold or before triage: not judged).
        "resolution_met": Q(recovered_at__lte=F("resolution_due_at")),
        "resolution_breached": Q(recovered_at__gt=F("resolution_due_at"))
        | Q(recovered_at__isnull=True, resolution_due_at__lt=now),
    }


# The SLA counts of each group; "open" is every state but closed.
SLA_FIELDS = (
    "total",
    "open",
    "met",
    "breached",
    "on_track",
    "untriaged",
    "auto_recovered",
    "resolution_met",
    "resolution_breached",
    "mtta_n",
    "mttr_n",
)
# The groups the figures are reported for: per priority, per local day, and the whole window.
ALL = ("all", None)


def _sla_row(row: dict) -> dict:
    judged = row["met"] + row["breached"]
    result = {
        "total": row["total"],
        "open": row["open"],
        "met": row["met"],
        "breached": row["breached"],
        "on_track": row["on_track"],
        "untriaged": row["untriaged"],
        # recovered by the monitor before anybody had to respond: neither met nor breached
        "auto_recovered": row["auto_recovered"],
        "compliance": share(row["met"], judged),
        "resolution_met": row["resolution_met"],
        "resolution_breached": row["resolution_breached"],
        "resolution_compliance": share(
            row["resolution_met"], row["resolution_met"] + row["resolution_breached"]
        ),
    }
    for name in INCIDENT_DURATIONS:
        for label in PERCENTILES:
            result[f"{name}_{label}"] = row.get(f"{name}_{label}")
        result[f"{name}_n"] = row[f"{name}_n"]
    return result


def _flags(now: datetime) -> dict[str, ExpressionWrapper]:
    """Per incident, whether it counts in each SLA figure (a boolean column per figure)."""
    conditions = {
        **{k: q for k, q in _sla_counts(now).items() if k != "total"},
        "open": ~Q(state=IncidentState.CLOSED),
        **{f"{n}_n": Q(**{f"{end}__isnull": False}) for n, (end, _s) in INCIDENT_DURATIONS.items()},
    }
    return {
        f"is_{k}": ExpressionWrapper(conditions[k], output_field=BooleanField())
        for k in SLA_FIELDS
        if k != "total"
    }


def _local_days(since: datetime, until: datetime) -> list[tuple]:
    """``(day, start, end)`` for each local calendar day of [since, until), clipped to it."""
    tz = timezone.get_current_timezone()
    days, current = [], timezone.localtime(since, tz).date()
    while True:
        start = datetime.combine(current, datetime.min.time(), tzinfo=tz)
        if start >= until:
            return days
        end = datetime.combine(current + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        days.append((current, max(start, since), min(end, until)))
        current += timedelta(days=1)


def _window_figures(
    cohort: QuerySet[Incident], day: Expression, now: datetime, since: datetime, until: datetime
) -> tuple:
    """Everything incident_metrics reports, in two queries on PostgreSQL and one elsewhere.

    Returns ``(groups, cells)``: ``groups`` maps ``("priority", p)``, ``("day", d)`` and
    :data:`ALL` to the SLA counts and the MTTA/MTTR percentiles (minutes); ``cells`` maps
    ``("state", priority, state)`` and ``("day", priority, day)`` to incident counts.

    PostgreSQL (docs/metrics.md § Performance): (1) ``GROUPING SETS ((priority), ())`` over the
    window with the counts as ``FILTER`` aggregates and the percentiles as
    ``percentile_cont(ARRAY[…])`` (one sort of a group's durations serves every fraction);
    (2) the same aggregates per local day, one index range scan per day (``LATERAL``), so no
    sort by day is needed. Durations are compared as float seconds, the same arithmetic as the
    interpolation in Python used for the other databases, which read the window's rows once."""
    connection = connections[cohort.db]
    postgres = connection.vendor == "postgresql"
    pairs = {
        name: EpochSeconds(F(end) - F(start)) if postgres else F(end) - F(start)
        for name, (end, start) in INCIDENT_DURATIONS.items()
    }
    flags = _flags(now)
    rows = cohort.annotate(day=day, **flags, **{f"{n}_d": e for n, e in pairs.items()})
    columns = ["priority", "day", "state", *flags, *(f"{n}_d" for n in pairs)]
    if not postgres:
        return _aggregate_in_python(rows.values_list(*columns).order_by(), list(pairs))
    inner, params = rows.values(*columns, "detected_at").order_by().query.sql_with_params()
    fractions = ", ".join(str(float(f)) for f in PERCENTILES.values())
    percentiles = ", ".join(
        f"percentile_cont(ARRAY[{fractions}]::float8[]) WITHIN GROUP (ORDER BY {n}_d)"
        for n in pairs
    )
    counts = ", ".join(
        "count(*)" if field == "total" else f"count(*) FILTER (WHERE is_{field})"
        for field in SLA_FIELDS
    )
    states = [s.value for s in IncidentState]
    priorities = ["", *(p.value for p in Priority)]

    def split(values: list) -> tuple[dict, list]:
        row = dict(zip(SLA_FIELDS, values, strict=False))
        found = values[len(SLA_FIELDS) : len(SLA_FIELDS) + len(pairs)]
        for name, result in zip(pairs, found, strict=True):
            for i, label in enumerate(PERCENTILES):
                row[f"{name}_{label}"] = None if result is None else minutes(result[i])
        return row, values[len(SLA_FIELDS) + len(pairs) :]

    # Built from constants around the ORM's own SQL; every value is a bound parameter.
    by_state = ", ".join(["count(*) FILTER (WHERE state = %s)"] * len(states))
    first = (
        f"SELECT GROUPING(priority), priority, {counts}, {percentiles}, {by_state} "  # noqa: S608
        f"FROM ({inner}) AS cohort GROUP BY GROUPING SETS ((priority), ())"
    )
    by_priority = ", ".join(["count(*) FILTER (WHERE priority = %s)"] * len(priorities))
    second = (
        f"SELECT d.day, p.* FROM unnest(%s::timestamptz[], %s::timestamptz[], %s::date[]) "  # noqa: S608
        f"AS d(starts, ends, day) CROSS JOIN LATERAL (SELECT {counts}, {percentiles}, "
        f"{by_priority} FROM ({inner}) AS cohort "
        "WHERE detected_at >= d.starts AND detected_at < d.ends) AS p"
    )
    days = _local_days(since, until)
    groups, cells = {}, {}
    with connection.cursor() as cursor:
        cursor.execute(first, [*states, *params])
        for grouping, priority, *values in cursor.fetchall():
            row, per_state = split(values)
            groups[ALL if grouping else ("priority", priority)] = row
            if not grouping:
                for state, n in zip(states, per_state, strict=True):
                    if n:
                        cells[("state", priority, state)] = n
        starts, ends, dates = ([d[i] for d in days] for i in (1, 2, 0))
        cursor.execute(second, [starts, ends, dates, *priorities, *params])
        for day_value, *values in cursor.fetchall():
            row, per_priority = split(values)
            if row["total"]:
                groups[("day", day_value)] = row
            for priority, n in zip(priorities, per_priority, strict=True):
                if n:
                    cells[("day", priority, day_value)] = n
    return groups, cells


def _aggregate_in_python(rows, durations: list[str]) -> tuple:
    """:func:`_window_figures` from the window's rows, for databases without percentile_cont."""
    flags = [f for f in SLA_FIELDS if f != "total"]
    groups: dict = {}
    samples: dict = {}
    cells: dict = {}
    for priority, day_value, state, *values in rows:
        marks, times = values[: len(flags)], values[len(flags) :]
        for key in (("priority", priority), ("day", day_value), ALL):
            row = groups.setdefault(key, dict.fromkeys(SLA_FIELDS, 0))
            row["total"] += 1
            for field, mark in zip(flags, marks, strict=True):
                row[field] += bool(mark)
            bucket = samples.setdefault(key, {n: [] for n in durations})
            for name, value in zip(durations, times, strict=True):
                if value is not None:
                    bucket[name].append(value.total_seconds())
        for key in (("state", priority, state), ("day", priority, day_value)):
            cells[key] = cells.get(key, 0) + 1
    for key, bucket in samples.items():
        for name in durations:
            for label, fraction in PERCENTILES.items():
                groups[key][f"{name}_{label}"] = minutes(percentile_cont(bucket[name], fraction))
    return groups, cells


def incident_metrics(
    *, since: datetime, until: datetime, service: str = "", now: datetime | None = None
) -> dict:
    """Incidents by priority and state, response and resolution SLA compliance, MTTA/MTTR (median, p90) per
    priority and overall, and the daily trend; docs/metrics.md § Incidents.

    A constant number of queries whatever the period (docs/metrics.md § Performance)."""
    now = now or timezone.now()
    cohort = detected_in(since, until, service)
    day = TruncDate("detected_at", tzinfo=timezone.get_current_timezone())
    groups, cells = _window_figures(cohort, day, now, since, until)
    empty = dict.fromkeys(SLA_FIELDS, 0)
    states = {s.value: 0 for s in IncidentState}
    by_priority_state = {p.value: dict(states) for p in Priority}
    per_day_priority: dict = {}
    for key, n in cells.items():
        if key[0] == "state":
            _kind, priority, state = key
            states[state] = states.get(state, 0) + n
            if priority in by_priority_state:
                by_priority_state[priority][state] += n
        else:
            _kind, priority, day_value = key
            per_day_priority.setdefault(day_value, {})[priority or "untriaged"] = n
    return {
        "overall": _sla_row(groups.get(ALL, empty)),
        "by_priority": {
            p.value: _sla_row(groups.get(("priority", p.value), empty)) for p in Priority
        },
        "untriaged_total": groups.get(("priority", ""), empty)["total"],
        "by_state": states,
        "by_priority_state": by_priority_state,
        "trend": incident_trend(since=since, until=until, groups=groups, counts=per_day_priority),
    }


def fix_metrics(*, since: datetime, until: datetime, service: str = "") -> dict:
    """§8.2 復旧作業 vs 修正作業 (docs/metrics.md § Recovery versus fix): **time to fix**
    (detection → ``fixed_at``, median and p90 in minutes) over the incidents **fixed** in the
    period, whenever detected — not the detection cohort of MTTR, since a fix after a
    workaround may land weeks later; and the fix follow-ups still open now. Two queries."""
    fixed = Incident.objects.filter(fixed_at__gte=since, fixed_at__lt=until)
    open_follow_ups = FixFollowUp.objects.open()
    if service:
        fixed = fixed.filter(service__slug=service)
        open_follow_ups = open_follow_ups.filter(incident__service__slug=service)
    row = grouped_stats(fixed, durations={"ttf": ("fixed_at", "detected_at")}, counted="fixed_at")
    return {
        "time_to_fix_p50": row[0]["ttf_p50"],
        "time_to_fix_p90": row[0]["ttf_p90"],
        "time_to_fix_n": row[0]["ttf_n"],
        "open_fix_follow_ups_now": open_follow_ups.count(),
    }


def incident_trend(*, since: datetime, until: datetime, groups: dict, counts: dict) -> list[dict]:
    """One point per local calendar day of the period (days without incidents included):
    MTTA/MTTR medians, compliance, and the number detected per priority (stacked bars)."""
    tz = timezone.get_current_timezone()
    points = []
    current, last = timezone.localtime(since, tz).date(), timezone.localtime(until, tz).date()
    if timezone.localtime(until, tz).time() == datetime.min.time():
        last -= timedelta(days=1)  # until is exclusive
    while current <= last:
        row = groups.get(("day", current), {})
        per_priority = counts.get(current, {})
        points.append(
            {
                "day": current.isoformat(),
                "compliance": share(row.get("met", 0), row.get("met", 0) + row.get("breached", 0)),
                "mtta_p50": row.get("mtta_p50"),
                "mttr_p50": row.get("mttr_p50"),
                "by_priority": {
                    p: per_priority.get(p, 0) for p in [*(x.value for x in Priority), "untriaged"]
                },
            }
        )
        current += timedelta(days=1)
    return points


# The steps that escalate (§8.4): a level raised by the clock or by a person, and the notify-only
# L5 branch (executives told). Reports (§8.3.1), response warnings and the breach notice itself
# are notifications, not escalations; a breach escalates through its own automatic step.
ESCALATING_KINDS = (StepKind.AUTOMATIC, StepKind.MANUAL, StepKind.NOTIFY)
AUTOMATIC_REASONS = (
    EscalationReason.NOT_ACKNOWLEDGED,
    EscalationReason.NOT_RECOVERED,
    EscalationReason.RESPONSE_BREACH,
    EscalationReason.MAJOR_IMPACT,
    EscalationReason.UPDATE_OVERDUE,
)


def escalation_metrics(*, since: datetime, until: datetime, service: str = "") -> dict:
    """Escalation steps taken in the period (``applied_at`` in [since, until)), by level reached
    and by reason: the seed's four manual reasons, and ``automatic`` for the steps the clock
    took (split in ``automatic_by_reason``). ``escalated`` counts the steps, ``incidents`` the
    incidents they escalated; docs/metrics.md § Escalations. One query."""
    steps = EscalationStep.objects.filter(
        applied_at__gte=since, applied_at__lt=until, kind__in=ESCALATING_KINDS
    )
    if service:
        steps = steps.filter(incident__service__slug=service)
    manual, automatic = Q(kind=StepKind.MANUAL), ~Q(kind=StepKind.MANUAL)
    aggregates = {
        "escalated": Count("pk"),
        "incidents": Count("incident", distinct=True),
        **{f"L{level}": Count("pk", filter=Q(level=level)) for level in range(1, 6)},
        **{f"m:{r.value}": Count("pk", filter=manual & Q(reason=r)) for r in MANUAL_REASONS},
        **{f"a:{r.value}": Count("pk", filter=automatic & Q(reason=r)) for r in AUTOMATIC_REASONS},
        "automatic": Count("pk", filter=automatic),
    }
    row = steps.aggregate(**aggregates)
    return {
        "by_level": {f"L{level}": row[f"L{level}"] for level in range(1, 6)},
        "by_reason": {
            **{r.value: row[f"m:{r.value}"] for r in MANUAL_REASONS},
            "automatic": row["automatic"],
        },
        "automatic_by_reason": {r.value: row[f"a:{r.value}"] for r in AUTOMATIC_REASONS},
        "escalated": row["escalated"],
        "incidents": row["incidents"],
    }


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
        "completion_within_due": share(row["on_time"], judged),
        "overdue_postmortems_now": overdue_pm.count(),
        "overdue_action_items_now": overdue_items.count(),
    }
