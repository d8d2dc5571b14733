"""SLA dashboard at scale: server time of the 30-day view with 100,000 and 1,000,000 incidents.

Rows are generated inside PostgreSQL with ``generate_series`` (two years of history, so a 30-day
window holds ~4 % of them), with proportional changes (1 per 10 incidents), releases (1 per 100)
and production deployments (3 per release). Timed: the metric selectors of every family for the
30-day period (``itsm.dashboard.collect``) and the whole page through the Django test client.
Budget (DESIGN.md): p95 ≤ 300 ms at 1,000,000 incidents.

On SQLite the sizes drop to 10,000 / 50,000 (there is no generate_series; rows are made with a
recursive CTE) and the figures are labelled as such.
"""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test import Client

RUNS = 20
BUDGET_MS = 300  # the 30-day page, p95 (DESIGN.md)
WARMUP = 3
SPAN_DAYS = 730
SIZES_PG = (100_000, 1_000_000)
SIZES_SQLITE = (10_000, 50_000)


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


def _timed(call) -> list[float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _insert(model, count: int, start: int, exprs: dict[str, str]) -> None:
    """INSERT ``count`` rows of ``model`` from a series ``g`` (start+1 … start+count) with
    random numbers r1, r2, r3 in [0, 1); columns not in ``exprs`` get their field default."""
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in exprs:
            values.append(exprs[field.column])
        elif field.null:
            values.append("NULL")
        elif field.has_default() or field.empty_strings_allowed:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
        else:
            raise RuntimeError(f"bench: no value for {model.__name__}.{field.column}")
    if connection.vendor == "postgresql":
        series = (
            f"SELECT g, random() AS r1, random() AS r2, random() AS r3, "
            f"now() - random() * interval '{SPAN_DAYS} days' AS t "
            f"FROM generate_series({start + 1}, {start + count}) AS g"
        )
    else:
        series = (
            f"WITH RECURSIVE s(g) AS (SELECT {start + 1} UNION ALL SELECT g + 1 FROM s "
            f"WHERE g < {start + count}), m AS MATERIALIZED (SELECT g, "
            f"abs(random() %% 1000000) / 1e6 AS r1, "
            f"abs(random() %% 1000000) / 1e6 AS r2, abs(random() %% 1000000) / 1e6 AS r3, "
            f"datetime('now', '-' || (abs(random()) %% ({SPAN_DAYS} * 86400)) || ' seconds') AS t "
            f"FROM s) SELECT * FROM m"
        )
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM ({series}) AS src"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _minutes(expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"(({expr}) * interval '1 minute')"
    return f"CAST(({expr}) AS INTEGER) || ' minutes'"


def _plus(moment: str, minutes_expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"({moment} + {_minutes(minutes_expr)})"
    return f"datetime({moment}, {_minutes(minutes_expr)})"


def _generate(start: int, count: int, services: list[int], user_id: int, fixtures: dict) -> None:
    from changes.models import ChangeRequest
    from incidents.models import Incident
    from releases.models import Deployment, Release

    pg = connection.vendor == "postgresql"
    service = f"(ARRAY{services})[1 + (g %% {len(services)})]" if pg else str(services[0])
    priority = "CASE WHEN r1 < 0.05 THEN 'P1' WHEN r1 < 0.20 THEN 'P2' WHEN r1 < 0.60 THEN 'P3' ELSE 'P4' END"
    target = (
        "CASE WHEN r1 < 0.05 THEN 15 WHEN r1 < 0.20 THEN 30 WHEN r1 < 0.60 THEN 120 ELSE 480 END"
    )
    started = f"CASE WHEN r2 < 0.02 THEN NULL ELSE {_plus('t', f'r2 * 2 * {target}')} END"
    recovered = (
        f"CASE WHEN r2 < 0.05 THEN NULL ELSE {_plus('t', f'r2 * 2 * {target} + r3 * 600')} END"
    )
    _insert(
        Incident,
        count,
        start,
        {
            "number": "'INC-B' || g",
            "title": "'bench incident ' || g",
            "state": "CASE WHEN r2 < 0.05 THEN 'investigating' ELSE 'closed' END",
            "source": "'monitoring'",
            "service_id": service,
            "priority": priority,
            "detected_at": "t",
            "triaged_at": "t",
            "response_due_at": _plus("t", target),
            "response_started_at": started,
            "recovered_at": recovered,
            "closed_at": f"CASE WHEN r2 < 0.05 THEN NULL ELSE {_plus('t', 'r3 * 600 + 60')} END",
            "escalation_level": "1 + CAST(r3 * r3 * 4 AS INTEGER)",
            "created_at": "t",
            "updated_at": "t",
        },
    )
    _insert(
        ChangeRequest,
        count // 10,
        start // 10,
        {
            "number": "'CHG-B' || g",
            "title": "'bench change ' || g",
            "state": "CASE WHEN r1 < 0.9 THEN 'closed' ELSE 'rolled_back' END",
            "category": "'application_deployment'",
            "change_class_id": f"CASE WHEN r2 < 0.1 THEN {fixtures['emergency']} ELSE {fixtures['normal']} END",
            "risk_level": "'medium'",
            "requester_id": str(user_id),
            "submitted_at": "t",
            "implementation_started_at": _plus("t", "4320"),
            "outcome": "CASE WHEN r1 < 0.9 THEN 'successful' ELSE 'failed' END",
            "created_at": "t",
            "updated_at": "t",
        },
    )
    _insert(
        Release,
        count // 100,
        start // 100,
        {
            "number": "'REL-B' || g",
            "name": "'bench release ' || g",
            "version": "'1.' || g",
            "state": "'completed'",
            "release_type": "CASE WHEN r1 < 0.1 THEN 'hotfix' ELSE 'patch' END",
            "service_id": service,
            "planned_at": "t",
            "strategy": "'rolling'",
            "owner_id": str(user_id),
            "production_at": "t",
            "created_at": _plus("t", "-2880"),
            "updated_at": "t",
        },
    )
    first, last = Release.objects.filter(number__startswith="REL-B").order_by("id")[:1], None
    first_id = first[0].id
    last = Release.objects.order_by("-id").values_list("id", flat=True)[0]
    releases = last - first_id + 1
    _insert(
        Deployment,
        (count // 100) * 3,
        (start // 100) * 3,
        {
            "release_id": f"{first_id} + (g %% {releases})",
            "environment_id": str(fixtures["production"]),
            "version": "'1.' || g",
            "result": "CASE WHEN r1 < 0.85 THEN 'succeeded' WHEN r1 < 0.95 THEN 'failed' ELSE 'rolled_back' END",
            "started_at": "t",
            "finished_at": _plus("t", "10"),
            "created_at": "t",
        },
    )
    # Bulk-loaded rows: set the visibility map and the statistics now, as autovacuum does on a
    # real database soon after such a load, so the covering indexes answer index-only.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")


def _queries_of(call) -> list[tuple[float, str]]:
    """Each query of one call with its time (ms), slowest first.

    Not CaptureQueriesContext: request_started resets the query log it reads."""
    queries: list[tuple[float, str]] = []

    def timed(execute, sql, *args):
        started = time.perf_counter()
        try:
            return execute(sql, *args)
        finally:
            queries.append(((time.perf_counter() - started) * 1000, sql))

    with connection.execute_wrapper(timed):
        call()
    return sorted(queries, key=lambda q: -q[0])


def run() -> list[dict]:
    from django.contrib.auth.models import Group

    from changes.models import ChangeClass
    from itsm import dashboard
    from itsm.core.models import Service, User
    from releases.models import Environment

    user, _ = User.objects.get_or_create(username="bench-manager")
    user.groups.add(Group.objects.get_or_create(name="ops_manager")[0])
    services = [
        Service.objects.get_or_create(slug=slug, defaults={"name": slug})[0].pk
        for slug in ("web-shop", "payments", "member-portal")
    ]
    fixtures = {
        "normal": ChangeClass.objects.get(code="normal").pk,
        "emergency": ChangeClass.objects.get(code="emergency").pk,
        "production": Environment.objects.get(code="production").pk,
    }
    client = Client()
    client.force_login(user)
    form = dashboard.PeriodForm({"days": "30"})
    assert form.is_valid()
    period = form.period()
    vendor = connection.vendor
    sizes = SIZES_PG if vendor == "postgresql" else SIZES_SQLITE
    results, loaded = [], 0
    for size in sizes:
        started = time.perf_counter()
        _generate(loaded, size - loaded, services, user.pk, fixtures)
        loaded = size
        load_s = time.perf_counter() - started
        in_window = dashboard.collect(period, ["incidents"])["incidents"]["overall"]["total"]
        selectors = _timed(lambda: dashboard.collect(period))

        def page():
            response = client.get("/dashboard/?days=30")
            if response.status_code != 200:
                raise RuntimeError(f"dashboard answered {response.status_code}")

        pages = _timed(page)
        queries = _queries_of(page)
        note = (
            f"{vendor}, {size:,} incidents over {SPAN_DAYS} d ({in_window:,} in the window), "
            f"N={RUNS}; generated in {load_s:.0f} s"
        )
        label = f"{size // 1000:,}k incidents"
        results += [
            {
                "name": f"30-day selectors p50, {label}",
                "figure": round(statistics.median(selectors), 1),
                "unit": "ms",
                "note": note,
            },
            {
                "name": f"30-day selectors p95, {label}",
                "figure": round(_p95(selectors), 1),
                "unit": "ms",
                "note": note,
            },
            {
                "name": f"30-day page p50, {label}",
                "figure": round(statistics.median(pages), 1),
                "unit": "ms",
                "note": note,
            },
            {
                "name": f"30-day page p95, {label}",
                "figure": round(_p95(pages), 1),
                "unit": "ms",
                "note": f"{note}; budget ≤ {BUDGET_MS} ms "
                f"({'met' if _p95(pages) <= BUDGET_MS else 'NOT met'})",
            },
            {
                "name": f"page queries, {label}",
                "figure": len(queries),
                "unit": "queries",
                "note": "",
            },
        ]
        print(f"  {label}: selectors p95 {_p95(selectors):.1f} ms, page p95 {_p95(pages):.1f} ms")
        for ms, sql in queries[:5]:  # where the time goes (docs/metrics.md § Performance)
            print(f"    {ms:7.1f} ms  {' '.join(sql.split())[:110]}")
    return results
