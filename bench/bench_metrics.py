"""One Prometheus scrape of /metrics at 1,000,000 incidents (issue 19, docs/monitoring.md).

PostgreSQL only. Loads 1,000,000 incidents copied in SQL from one filed through the service (so
every column the schema requires is filled): 2 % open, spread over P1–P4, the closed ones with no
deadline; plus 20,000 notifications of which 1 % failed, then times ``GET /metrics`` from an allowed address
(in-process ``django.test.Client``): median and p95 of N scrapes and the queries per scrape.
Budget: a scrape under 100 ms whatever the table sizes (Prometheus scrapes every 30 s).
"""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test import Client

RUNS = 30
WARMUP = 3
BUDGET_MS = 100
NOTIFICATIONS = 20_000
COUNT = 1_000_000


def _incidents() -> None:
    from incidents import services

    template = services.open_incident(
        title="Bench",
        source="monitoring",
        impact_scope="some_users",
        business_impact="minor",
        urgency="immediate",
    )
    _copies(
        "incidents_incident",
        template.pk,
        {
            "number": "'INC-B' || lpad(g::text, 7, '0')",
            "state": "CASE WHEN g %% 50 = 0 THEN 'investigating' ELSE 'closed' END",
            "priority": "(ARRAY['P1','P2','P3','P4'])[1 + (g / 50) %% 4]",
            "next_deadline_at": "CASE WHEN g %% 50 = 0 THEN now() + interval '10 minutes' END",
            "detected_at": "now() - g * interval '1 minute'",
            # Like real data: the closed ones' targets lie in the past, most open ones' too.
            "resolution_due_at": "now() - g * interval '1 minute' + interval '8 hours'",
        },
        COUNT,
    )


def _copies(table: str, template_id: int, varied: dict[str, str], count: int) -> None:
    """``count`` copies of one row made through the ORM, with the ``varied`` columns computed
    from ``g`` (1…count): every other column the schema requires is filled like the template's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            [table],
        )
        columns = [row[0] for row in cursor.fetchall() if row[0] not in {"id", *varied}]
        copied = ", ".join(f'"{c}"' for c in columns)
        cursor.execute(
            f"INSERT INTO {table} ({copied}, {', '.join(varied)}) "  # noqa: S608 - constants
            f"SELECT {copied}, {', '.join(varied.values())} "
            f"FROM {table} t, generate_series(1, {count}) AS g WHERE t.id = %s",
            [template_id],
        )
        cursor.execute(f"VACUUM ANALYZE {table}")


def _notifications() -> None:
    from itsm.core.models import Notification, User

    user = User.objects.create(username="bench-metrics")
    template = Notification.objects.create(recipient=user, channel="email", key="t", title="x")
    _copies(
        "core_notification",
        template.pk,
        {
            "key": "'bench-' || g",
            "channel": "(ARRAY['email','chat','webhook','in_app'])[1 + g %% 4]",
            "status": "CASE WHEN g %% 100 = 0 THEN 'failed' ELSE 'sent' END",
            "created_at": "now() - g * interval '1 minute'",
        },
        NOTIFICATIONS,
    )


def _sources_ms() -> dict[str, float]:
    from itsm.core.monitoring.worker import BrokerCollector, WorkerStoreCollector
    from itsm.monitoring import SOURCES

    sources = {**SOURCES, "broker": BrokerCollector(), "worker_store": WorkerStoreCollector()}
    timings = {}
    for name, collector in sources.items():
        samples = []
        for _ in range(RUNS):
            started = time.perf_counter()
            list(collector.collect())
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples)
    return timings


def run() -> list[dict]:
    if connection.vendor != "postgresql":
        return [{"name": "skipped", "figure": 0, "unit": "—", "note": "needs PostgreSQL"}]
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    started = time.perf_counter()
    _incidents()
    _notifications()
    load_s = time.perf_counter() - started
    client = Client(REMOTE_ADDR="127.0.0.1")
    for _ in range(WARMUP):
        assert client.get("/metrics").status_code == 200
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get("/metrics")
        samples.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(conn) as queries:
        client.get("/metrics")
    p95 = statistics.quantiles(samples, n=100, method="inclusive")[94]
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in _sources_ms().items())
    for query in queries.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + query["sql"])
            print("\n".join(row[0] for row in cursor.fetchall()))
    note = (
        f"postgresql, {COUNT:,} incidents (2 % open), {NOTIFICATIONS:,} notifications; "
        f"N={RUNS}; loaded in {load_s:.0f} s; median {statistics.median(samples):.1f} ms; {len(queries)} queries per scrape; median ms per source: {parts}"
    )
    return [
        {
            "name": "GET /metrics p95",
            "figure": round(p95, 1),
            "unit": "ms",
            "note": f"{note}; budget {BUDGET_MS} ms ({'met' if p95 <= BUDGET_MS else 'NOT met'})",
        }
    ]
