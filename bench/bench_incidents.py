"""Incident list, triage queue, detail and API list at 1,000,000 incidents (issue 3 §9).

PostgreSQL only (``DATABASE_URL=postgres://… bench/run.py -k incidents``); on SQLite it returns
one row saying it was skipped. Rows are generated inside PostgreSQL with ``INSERT … SELECT … FROM
generate_series`` (never through the ORM): two years of history, ~2 % still open (recent ones,
spread over every open state), priorities 5/15/40/40 % P1–P4, eight services, three teams,
twelve assignees, a realistic title/description vocabulary for the search, and a timeline of a
few entries per open incident. Then ``VACUUM ANALYZE``.

Timed through ``django.test.Client`` as a logged-in ops leader (server time in-process, no
network): N requests per page after a warm-up, median and p95, and the queries per page.
Budget (DESIGN.md, issue 3 §9): p95 ≤ 150 ms with a query count that does not grow with the data.
"""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test import Client

COUNT = 1_000_000
RUNS = 30
WARMUP = 3
BUDGET_MS = 150
SPAN_DAYS = 730

SERVICES = [
    "web-shop",
    "payments",
    "member-portal",
    "search",
    "inventory",
    "mail-delivery",
    "batch-billing",
    "internal-wiki",
]
TEAMS = ["ops-l1", "ops-l2", "dev-platform"]
ASSIGNEES = 12
# The first words of every title; the search below looks for one of them (1 in 8 rows).
SUBJECTS = [
    "Checkout errors",
    "Login timeout",
    "Slow search results",
    "Payment gateway 502",
    "Disk almost full",
    "Batch job failed",
    "Mail queue backlog",
    "Certificate expiry warning",
]
SEARCH = "timeout"


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


def _queries_of(call) -> int:
    # Not CaptureQueriesContext: request_started resets the query log it reads.
    queries: list[str] = []
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        call()
    return len(queries)


def _sql_array(values) -> str:
    return "ARRAY[" + ", ".join(str(v) for v in values) + "]"


def _text_array(values) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _generate(services: list[int], teams: list[int], users: list[int]) -> None:
    """1,000,000 incidents in one statement; r1 picks the state, r2 the priority, r3 the rest."""
    # State: ~2 % open, the rest closed. Open ones were detected in the last 3 days.
    state = (
        "CASE WHEN r1 < 0.003 THEN 'detected' WHEN r1 < 0.008 THEN 'triaged' "
        "WHEN r1 < 0.014 THEN 'investigating' WHEN r1 < 0.017 THEN 'recovering' "
        "WHEN r1 < 0.020 THEN 'verifying' ELSE 'closed' END"
    )
    untriaged = "r1 < 0.003"
    is_open = "r1 < 0.020"
    priority = "CASE WHEN r2 < 0.05 THEN 'P1' WHEN r2 < 0.20 THEN 'P2' WHEN r2 < 0.60 THEN 'P3' ELSE 'P4' END"
    target_min = (
        "CASE WHEN r2 < 0.05 THEN 15 WHEN r2 < 0.20 THEN 30 WHEN r2 < 0.60 THEN 120 ELSE 480 END"
    )
    scope = (
        "CASE WHEN r2 < 0.05 THEN 'all_users' WHEN r2 < 0.20 THEN 'some_users' "
        "ELSE 'single_feature' END"
    )
    impact = (
        "CASE WHEN r2 < 0.05 THEN 'revenue_loss' WHEN r2 < 0.60 THEN 'reputation' ELSE 'minor' END"
    )
    urgency = "CASE WHEN r2 < 0.60 THEN 'immediate' ELSE 'planned' END"
    after = "t + (({m}) * interval '1 minute')"
    due = after.format(m=target_min)
    started = after.format(m=f"r3 * 2 * {target_min}")
    recovered = after.format(m=f"r3 * 2 * {target_min} + 30 + r3 * 600")
    closed = after.format(m=f"r3 * 2 * {target_min} + 60 + r3 * 900")
    # Open incidents keep their clock stamps only up to the state they reached.
    past_investigating = "r1 >= 0.008"
    past_recovering = "r1 >= 0.014"
    columns = {
        "number": "'INC-' || lpad(g::text, 7, '0')",
        "state": state,
        "title": f"({_text_array(SUBJECTS)})[1 + g % {len(SUBJECTS)}] || ' on ' || "
        f"({_text_array(SERVICES)})[1 + (g / 7) % {len(SERVICES)}] || ' #' || g",
        "description": "'Reported by ' || CASE WHEN r3 < 0.5 THEN 'monitoring' ELSE 'a user' END"
        " || '. Symptoms observed since ' || to_char(t, 'YYYY-MM-DD HH24:MI') || '; customers "
        "affected, see the runbook.'",
        "source": "CASE WHEN r3 < 0.5 THEN 'monitoring' WHEN r3 < 0.85 THEN 'user_report' "
        "ELSE 'ops_discovery' END",
        "service_id": f"({_sql_array(services)})[1 + (g / 7) % {len(services)}]",
        "impact_scope": f"CASE WHEN {untriaged} THEN '' ELSE {scope} END",
        "business_impact": f"CASE WHEN {untriaged} THEN '' ELSE {impact} END",
        "urgency": f"CASE WHEN {untriaged} THEN '' ELSE {urgency} END",
        "priority": f"CASE WHEN {untriaged} THEN '' ELSE {priority} END",
        "priority_overridden": "r3 < 0.01",
        "assignee_id": f"CASE WHEN {untriaged} THEN NULL ELSE "
        f"({_sql_array(users)})[1 + (g / 3) % {len(users)}] END",
        "team_id": f"CASE WHEN {untriaged} THEN NULL ELSE "
        f"({_sql_array(teams)})[1 + (g / 5) % {len(teams)}] END",
        "reported_by_id": "NULL",
        "detected_at": "t",
        "triaged_at": f"CASE WHEN {untriaged} THEN NULL ELSE t + interval '5 minutes' END",
        "response_due_at": f"CASE WHEN {untriaged} THEN NULL ELSE {due} END",
        "response_started_at": f"CASE WHEN {is_open} AND NOT {past_investigating} THEN NULL "
        f"ELSE {started} END",
        "recovered_at": f"CASE WHEN {is_open} AND NOT {past_recovering} THEN NULL "
        f"ELSE {recovered} END",
        "closed_at": f"CASE WHEN {is_open} THEN NULL ELSE {closed} END",
        "resolution_summary": f"CASE WHEN {is_open} THEN '' ELSE "
        "'Restarted the failing component and confirmed recovery.' END",
        # Issue 18's columns have no database default: recovery vs fix is not measured here.
        "fix_status": "''",
        "fix_change": "''",
        "escalation_level": f"CASE WHEN {untriaged} THEN NULL ELSE 1 + CAST(r3 * r3 * 4 AS int) END",
        "next_deadline_at": f"CASE WHEN {is_open} THEN now() + interval '10 minutes' ELSE NULL END",
        "created_at": "t",
        "updated_at": "t",
    }
    series = (
        "SELECT g, r1, r2, r3, CASE WHEN r1 < 0.020 "
        "THEN now() - r3 * interval '3 days' "
        f"ELSE now() - interval '3 days' - r3 * interval '{SPAN_DAYS} days' END AS t "
        "FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3 "
        f"FROM generate_series(1, {COUNT}) AS g) AS s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO incidents_incident ({', '.join(columns)}) "  # noqa: S608 - constants
            f"SELECT {', '.join(columns.values())} FROM ({series}) AS src"
        )
        # A few timeline entries per open incident (the detail page reads them).
        cursor.execute(
            "INSERT INTO incidents_timelineentry (incident_id, at, actor_id, actor_label, kind, "
            "text, data) "
            "SELECT i.id, i.detected_at + k * interval '4 minutes', NULL, 'bench', 'comment', "
            "'Status update ' || k, '{}'::jsonb "
            "FROM incidents_incident i CROSS JOIN generate_series(1, 5) AS k "
            "WHERE i.state <> 'closed'"
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('incidents_incident', 'id'), "
            "(SELECT max(id) FROM incidents_incident))"
        )
        cursor.execute("VACUUM ANALYZE")


def _fixtures() -> tuple:
    from django.contrib.auth.models import Group

    from itsm.core.models import Service, Team, User

    leader, _ = User.objects.get_or_create(username="bench-leader")
    leader.groups.add(Group.objects.get(name="ops_leader"))
    services = [
        Service.objects.get_or_create(slug=slug, defaults={"name": slug})[0].pk for slug in SERVICES
    ]
    teams = [Team.objects.get_or_create(slug=slug, defaults={"name": slug})[0].pk for slug in TEAMS]
    users = [
        User.objects.get_or_create(username=f"bench-responder-{i}")[0].pk
        for i in range(1, ASSIGNEES + 1)
    ]
    return leader, services, teams, users


def _pages(client: Client) -> dict[str, str]:
    """The pages timed, by label → URL (read after the load so they name real rows)."""
    from incidents.models import Incident

    detail = (
        Incident.objects.filter(state="investigating")
        .order_by("-id")
        .values_list("number", flat=True)[0]
    )
    return {
        "incident list (default: open)": "/incidents/",
        "incident list, P1+P2 closed": "/incidents/?priority=P1&priority=P2&state=closed",
        f"incident list, search '{SEARCH}'": f"/incidents/?q={SEARCH}",
        "incident list, P1 + search, any state": f"/incidents/?priority=P1&q={SEARCH}",
        "incident list, page 20 of closed": "/incidents/?state=closed&page=20",
        "triage queue": "/incidents/triage/",
        "incident detail": f"/incidents/{detail}/",
        "API list": "/api/v1/incidents/",
        "API list, P1 open": "/api/v1/incidents/?priority=P1&open=true",
    }


def _timed(client: Client, url: str) -> list[float]:
    def call():
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")

    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run() -> list[dict]:
    if connection.vendor != "postgresql":
        return [
            {
                "name": "skipped",
                "figure": 0,
                "unit": "—",
                "note": f"needs PostgreSQL (DATABASE_URL=postgres://…); this run used {connection.vendor}",
            }
        ]
    from django.urls import reverse

    leader, services, teams, users = _fixtures()
    started = time.perf_counter()
    _generate(services, teams, users)
    load_s = time.perf_counter() - started
    assert reverse("incidents:triage_queue") == "/incidents/triage/"
    client = Client()
    client.force_login(leader)
    from incidents.models import Incident

    open_count = Incident.objects.open().count()
    note = (
        f"postgresql, {COUNT:,} incidents ({open_count:,} open) over {SPAN_DAYS} d, "
        f"N={RUNS} as an ops leader; generated in {load_s:.0f} s"
    )
    results = []
    for label, url in _pages(client).items():
        samples = _timed(client, url)
        queries = _queries_of(lambda url=url: client.get(url))
        p95 = _p95(samples)
        verdict = "met" if p95 <= BUDGET_MS else "OVER"
        results += [
            {
                "name": f"{label} p50",
                "figure": round(statistics.median(samples), 1),
                "unit": "ms",
                "note": note,
            },
            {
                "name": f"{label} p95",
                "figure": round(p95, 1),
                "unit": "ms",
                "note": f"budget {BUDGET_MS} ms ({verdict})",
            },
            {"name": f"{label} queries", "figure": queries, "unit": "queries", "note": url},
        ]
        print(f"  {label}: p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, {queries} q")
    return results
