"""The shape of the dashboard's queries (docs/metrics.md § Performance): few passes over the
window, the same figures from the per-group aggregates as from the rows themselves."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import selectors
from itsm.core.stats import percentile_cont
from releases import selectors as release_selectors
from releases.models import Deployment, Environment
from tests.factories import ServiceFactory
from tests.releases.factories import ReleaseFactory

from .conftest import NOW, SINCE, UNTIL, jst, make_incident

H = timedelta(hours=1)


def test_incident_figures_take_two_passes_on_postgresql_and_one_elsewhere(week):
    with CaptureQueriesContext(connection) as queries:
        selectors.incident_metrics(since=SINCE, until=UNTIL, now=NOW)
    assert len(queries) == (2 if connection.vendor == "postgresql" else 1)


def test_grouped_figures_equal_the_figures_computed_from_the_rows(db):
    """Random incidents: every per-priority, per-day and overall figure equals a plain Python
    computation over the same rows (counts exact, percentiles interpolated like PostgreSQL)."""
    rng = random.Random(9)
    incidents = []
    for _ in range(60):
        priority = rng.choice(["P1", "P2", "P3", "P4"])
        detected = SINCE + timedelta(minutes=rng.randrange(7 * 24 * 60))
        started = (
            detected + timedelta(minutes=rng.randrange(1, 300)) if rng.random() < 0.8 else None
        )
        recovered = (
            started + timedelta(minutes=rng.randrange(1, 900))
            if started and rng.random() < 0.7
            else None
        )
        incidents.append(make_incident(priority, detected, started, recovered))
    data = selectors.incident_metrics(since=SINCE, until=UNTIL, now=NOW)

    def minutes(values, fraction):
        found = percentile_cont([v.total_seconds() for v in values], fraction)
        return None if found is None else round(found / 60, 1)

    for priority in ["P1", "P2", "P3", "P4"]:
        rows = [i for i in incidents if i.priority == priority]
        figures = data["by_priority"][priority]
        mtta = [i.response_started_at - i.detected_at for i in rows if i.response_started_at]
        mttr = [i.recovered_at - i.detected_at for i in rows if i.recovered_at]
        met = [
            i for i in rows if i.response_started_at and i.response_started_at <= i.response_due_at
        ]
        assert figures["total"] == len(rows)
        assert figures["met"] == len(met)
        assert figures["mtta_n"] == len(mtta) and figures["mttr_n"] == len(mttr)
        assert figures["mtta_p50"] == minutes(mtta, 0.5)
        assert figures["mtta_p90"] == minutes(mtta, 0.9)
        assert figures["mttr_p90"] == minutes(mttr, 0.9)
    every = [i.response_started_at - i.detected_at for i in incidents if i.response_started_at]
    assert data["overall"]["mtta_p50"] == minutes(every, 0.5)
    assert data["overall"]["total"] == len(incidents)
    for point in data["trend"]:
        rows = [
            i
            for i in incidents
            if i.detected_at.astimezone(SINCE.tzinfo).date().isoformat() == point["day"]
        ]
        mtta = [i.response_started_at - i.detected_at for i in rows if i.response_started_at]
        assert point["mtta_p50"] == minutes(mtta, 0.5)
        assert sum(point["by_priority"].values()) == len(rows)


def test_recovery_is_measured_to_the_next_success_of_the_same_service(db):
    """Two failures in a row recover at the same later success; another service's success
    does not count, nor does an earlier one."""
    production = Environment.objects.get(code="production")
    shop, pay = ServiceFactory(slug="web-shop"), ServiceFactory(slug="payments")

    def deploy(service, at, result):
        release = ReleaseFactory(service=service, created_at=SINCE - 24 * H)
        Deployment.objects.create(
            release=release,
            environment=production,
            version=release.version,
            result=result,
            started_at=at,
            finished_at=at,
        )

    deploy(shop, jst(2025, 6, 3, 8), "succeeded")
    deploy(shop, jst(2025, 6, 3, 10), "failed")
    deploy(shop, jst(2025, 6, 3, 11), "rolled_back")
    deploy(pay, jst(2025, 6, 3, 12), "succeeded")
    deploy(shop, jst(2025, 6, 3, 14), "succeeded")
    deploy(shop, jst(2025, 6, 3, 20), "succeeded")
    data = release_selectors.dora_metrics(since=SINCE, until=UNTIL)
    assert data["recovered_failures"] == 2 and data["unrecovered_failures"] == 0
    # 4 h and 3 h → median 3.5 h
    assert data["metrics"]["failed_deployment_recovery_time"]["value"] == 3.5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("service", [False, True])
def test_the_window_is_read_from_the_covering_index_alone(service):
    """Both passes are index-only scans of the covering index: a column counted but not in its
    INCLUDE list (issue 18's resolution deadline was one) turns them into ~40,000 heap reads at
    1M incidents. The planner is asked with sequential and bitmap scans off, after a VACUUM
    (the visibility map), so the plan shows whether the index covers every column read."""
    if connection.vendor != "postgresql":
        pytest.skip("covering (INCLUDE) indexes are PostgreSQL's; SQLite reads the rows")
    web = ServiceFactory(slug="web")
    for hour in range(20):
        make_incident("P2", SINCE + hour * H, SINCE + hour * H + H / 4, service=web)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents_incident")
    with CaptureQueriesContext(connection) as queries:
        selectors.incident_metrics(
            since=SINCE, until=UNTIL, now=NOW, service="web" if service else ""
        )
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            for query in queries.captured_queries:
                cursor.execute(f"EXPLAIN {query['sql']}")
                plan = [row[0].strip() for row in cursor.fetchall()]
                scans = [line for line in plan if " on incidents_incident " in line]
                assert scans, plan
                for scan in scans:
                    assert scan.startswith("->  Index Only Scan using incident_metrics_"), plan
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")
