"""Escalation sweep (issue 20, budgets 3–5): a burst of 1,000 deadlines at once, swept by one
and by two worker processes, among 10,000 and 1,000,000 open incidents; the sweeping worker's
memory across repeated bursts; deadline-to-notification-row latency.

PostgreSQL only (``DATABASE_URL=postgres://… make bench``): rows are generated with
``generate_series`` in SQL, never through the ORM. Each due incident is a P3 20 minutes after
detection whose L2 step (15 min) is due: the sweep locks it, writes the step, the level, the
timeline entries, the audit event, and pages the L2 team (five people): five ``Page`` rows and
ten notification rows (in-app + email) per step.

The sweeps run in separate worker processes (``spawn``, like Celery's), started once and reused,
so the memory figures are those of a process that swept every burst.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

DUE = 1_000
SMALL = 10_000
LARGE = 1_000_000
TEAM_SIZE = 5
ROUNDS = 5
MS_PER_STEP = 2.0
TWO_WORKER_RATIO = 0.75
SIZE_RATIO = 1.3
RSS_MIB = 150.0
RSS_GROWTH_MIB = 5.0

_COLUMNS = (
    "number, state, title, description, source, impact_scope, business_impact, urgency, "
    "priority, priority_overridden, detected_at, triaged_at, response_due_at, resolution_summary, "
    "fix_status, fix_change, escalation_level, next_deadline_at, created_at, updated_at"
)


def _insert_incidents(prefix: str, start: int, count: int, *, due: bool) -> None:
    """``count`` open P3 incidents; due ones have next_deadline_at in the past (and a clock)."""
    deadline = "now() - interval '1 minute'" if due else "now() + interval '1 day'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO incidents_incident ({_COLUMNS})
            SELECT '{prefix}-' || lpad(g::text, 7, '0'), 'triaged', 'Bench incident ' || g, '',
                   'monitoring', 'some_users', 'minor', 'immediate', 'P3', false,
                   now() - interval '20 minutes', now() - interval '20 minutes',
                   now() + interval '100 minutes', '', '', '', 1, {deadline}, now(), now()
            FROM generate_series(%s, %s) AS g
            """,  # noqa: S608 - constants only
            [start, start + count - 1],
        )


def _insert_clocks(prefix: str, snapshot_json: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO incidents_incidentescalation
                (incident_id, policy_id, snapshot, cycle, started_at, level_reached_at)
            SELECT i.id, NULL, %s::jsonb, 1, i.detected_at, i.detected_at
            FROM incidents_incident i
            LEFT JOIN incidents_incidentescalation e ON e.incident_id = i.id
            WHERE i.number LIKE %s AND e.incident_id IS NULL
            """,
            [snapshot_json, f"{prefix}-%"],
        )
        cursor.execute("ANALYZE incidents_incident")
        cursor.execute("ANALYZE incidents_incidentescalation")


# The tables a sweep reads and writes.
_SWEPT = (
    "incidents_incidentescalation",
    "incidents_escalationstep",
    "incidents_page",
    "incidents_timelineentry",
    "core_notification",
    "core_auditevent",
)


def _settle() -> None:
    """After a bulk load: vacuum, analyse and checkpoint, so the sweep measured next does not
    pay for the load's autovacuum and checkpoint I/O (steady state, as in production). The
    tables the sweeps wrote are analysed as production's autovacuum would have analysed them
    by then: a PostgreSQL run with ``autovacuum = off`` (this machine's CI configuration) never
    does, and without statistics the planner reads a person's whole notification history for
    the burst look-up (``notification_rules.burst_openers``) instead of the thread index."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents_incident")
        for table in _SWEPT:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("CHECKPOINT")


def _burst(prefix: str, snapshot_json: str) -> None:
    _insert_incidents(prefix, 1, DUE, due=True)
    _insert_clocks(prefix, snapshot_json)


# ---------------------------------------------------------------------------- worker processes


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB (Linux /proc)."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _sep, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def _worker(db_name: str, commands, results) -> None:
    """A sweeping worker: Django set up on the bench database, then one sweep per command."""
    import sys

    sys.path.insert(0, str(settings_root()))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import connections as worker_connections

    worker_connections["default"].settings_dict["NAME"] = db_name
    settings.DEBUG = False  # as in a production worker: no query log kept in memory
    from itsm.core.notification_rules import DEFAULT_BURST_SECONDS

    # Bursts merge as in production (tests.settings turns them off for the suite's sake).
    settings.NOTIFICATION_BURST_SECONDS = DEFAULT_BURST_SECONDS
    from incidents import escalation
    from itsm.celery import freeze_loaded_objects

    freeze_loaded_objects()  # as a Celery worker process starts
    while (command := commands.get()) is not None:
        _wait_until = command
        while time.time() < _wait_until:
            time.sleep(0.001)
        started = time.time()
        applied = escalation.sweep_deadlines()
        ended = time.time()
        results.put((started, ended, applied, *_rss_mib()))


def settings_root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


class Workers:
    def __init__(self, count: int):
        context = multiprocessing.get_context("spawn")
        db_name = connection.settings_dict["NAME"]
        self.queues = [(context.Queue(), context.Queue()) for _n in range(count)]
        self.processes = [
            context.Process(target=_worker, args=(db_name, commands, results), daemon=True)
            for commands, results in self.queues
        ]
        for process in self.processes:
            process.start()

    def sweep(self, count: int) -> tuple[float, int, list[tuple[float, float]]]:
        """``count`` workers sweep at once; (wall seconds, steps applied, [(rss, peak)])."""
        go = time.time() + 0.2
        for commands, _results in self.queues[:count]:
            commands.put(go)
        done = [results.get(timeout=600) for _commands, results in self.queues[:count]]
        seconds = max(d[1] for d in done) - min(d[0] for d in done)
        return seconds, sum(d[2] for d in done), [(d[3], d[4]) for d in done]

    def stop(self) -> None:
        for commands, _results in self.queues:
            commands.put(None)
        for process in self.processes:
            process.join(timeout=30)


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def run() -> list[dict]:
    import json

    from incidents.models import EscalationPolicy, Incident, IncidentEscalation, Page
    from itsm.core.models import Notification, Team, User

    if connection.vendor != "postgresql":
        print("  skipped: needs PostgreSQL (DATABASE_URL=postgres://…)")
        return []
    team, _ = Team.objects.get_or_create(slug="bench-l2", name="Bench L2", escalation_level=2)
    for n in range(TEAM_SIZE):
        member, _ = User.objects.get_or_create(
            username=f"bench-l2-{n}", email=f"l2-{n}@example.com"
        )
        team.members.add(member)
    snapshot = json.dumps(
        EscalationPolicy.objects.get(track="normal", service=None).snapshot().dump()
    )
    connections.close_all()
    workers = Workers(2)
    try:
        return _measure(workers, snapshot, Incident, IncidentEscalation, Page, Notification)
    finally:
        workers.stop()


def _measure(workers, snapshot, Incident, IncidentEscalation, Page, Notification) -> list[dict]:
    def checked(seconds, applied, prefix):
        if applied != DUE:
            raise RuntimeError(f"{prefix}: expected {DUE} steps, got {applied}")
        pages = Page.objects.filter(incident__number__startswith=f"{prefix}-").count()
        rows = Notification.objects.filter(key__startswith=f"{prefix}-").count()
        if pages != DUE * TEAM_SIZE or rows != DUE * TEAM_SIZE * 2:
            raise RuntimeError(f"{prefix}: {pages} pages, {rows} notification rows")
        return seconds

    # Warm-up (connections, caches, code paths), not measured: both workers.
    _burst("BW", snapshot)
    workers.sweep(2)

    # 10,000 open incidents of which 1,000 are due.
    _insert_incidents("BS", 1, SMALL - DUE, due=False)
    _settle()
    _burst("BD1", snapshot)
    seconds, applied, _rss = workers.sweep(1)
    small_seconds = checked(seconds, applied, "BD1")

    # Grow to 1,000,000 open incidents; 1,000 new ones due.
    _insert_incidents("BL", 1, LARGE - SMALL, due=False)
    _settle()
    _burst("BD2", snapshot)
    open_count = Incident.objects.filter(next_deadline_at__isnull=False).count()
    seconds, applied, _rss = workers.sweep(1)
    large_seconds = checked(seconds, applied, "BD2")

    # Alternating rounds among 1M open: one worker, then two workers sharing the burst.
    one, two, memory = [], [], []
    for round_ in range(ROUNDS):
        _burst(f"BO{round_}", snapshot)
        seconds, applied, rss = workers.sweep(1)
        one.append(checked(seconds, applied, f"BO{round_}"))
        memory.append(rss[0])
        _burst(f"BT{round_}", snapshot)
        seconds, applied, _rss = workers.sweep(2)
        two.append(checked(seconds, applied, f"BT{round_}"))
    one_seconds, two_seconds = statistics.median(one), statistics.median(two)

    # One deadline at a time (the usual case): 20 samples among the 1M open incidents.
    from incidents import escalation

    interval = settings.SWEEP_INTERVAL_SECONDS
    single = []
    for n in range(1, 21):
        _insert_incidents("BS1", n, 1, due=True)
        _insert_clocks("BS1", snapshot)
        number = f"BS1-{n:07d}"
        at = timezone.now()
        Incident.objects.filter(number=number).update(next_deadline_at=at)
        IncidentEscalation.objects.filter(incident__number=number).update(
            started_at=at - timedelta(minutes=15), level_reached_at=at - timedelta(minutes=15)
        )
        escalation.sweep_deadlines()
        row = Notification.objects.filter(key=f"{number}:c1:L2", channel="in_app").first()
        single.append((row.created_at - at).total_seconds())
    worst = interval + max(single)

    per_step = one_seconds / DUE * 1000
    ratio_two = two_seconds / one_seconds
    ratio_size = large_seconds / small_seconds
    peak = max(p for _rss, p in memory)
    growth = memory[-1][0] - memory[0][0]
    rows = TEAM_SIZE * 2
    return [
        {
            "name": "sweep burst, one worker, per step",
            "figure": round(per_step, 2),
            "unit": "ms",
            "note": f"{DUE:,} due among {open_count:,} open, median of {ROUNDS} rounds ("
            + " / ".join(f"{s / DUE * 1000:.2f}" for s in one)
            + " ms); step + level + "
            f"{TEAM_SIZE} pages + {rows} notification rows + timeline + audit; "
            f"budget ≤ {MS_PER_STEP:g} ms ({_verdict(per_step <= MS_PER_STEP)})",
        },
        {
            "name": "sweep burst, two workers / one worker",
            "figure": round(ratio_two, 2),
            "unit": "×",
            "note": f"{two_seconds * 1000:.0f} ms vs {one_seconds * 1000:.0f} ms, median of "
            f"{ROUNDS}; budget ≤ {TWO_WORKER_RATIO}× ({_verdict(ratio_two <= TWO_WORKER_RATIO)})",
        },
        {
            "name": "sweep, 10k open",
            "figure": round(small_seconds * 1000, 1),
            "unit": "ms",
            "note": f"{DUE:,} due among {SMALL:,} open, one worker",
        },
        {
            "name": "sweep, 1M open",
            "figure": round(large_seconds * 1000, 1),
            "unit": "ms",
            "note": f"{DUE:,} due among {open_count:,} open, one worker",
        },
        {
            "name": "sweep cost ratio 1M / 10k",
            "figure": round(ratio_size, 2),
            "unit": "×",
            "note": f"budget ≤ {SIZE_RATIO}× ({_verdict(ratio_size <= SIZE_RATIO)})",
        },
        {
            "name": "sweeping worker peak RSS",
            "figure": round(peak, 1),
            "unit": "MiB",
            "note": f"RSS after bursts 1–{ROUNDS}: "
            + " / ".join(f"{r:.1f}" for r, _p in memory)
            + f" MiB (peak {' / '.join(f'{p:.1f}' for _r, p in memory)}); budget ≤ "
            f"{RSS_MIB:g} MiB, growth ≤ {RSS_GROWTH_MIB:g} MiB "
            f"({_verdict(peak <= RSS_MIB and growth <= RSS_GROWTH_MIB)})",
        },
        {
            "name": "deadline → notification row, one deadline, max",
            "figure": round(max(single), 3),
            "unit": "s",
            "note": f"{len(single)} samples among 1M open, swept at the deadline",
        },
        {
            "name": "deadline → notification row, worst case",
            "figure": round(worst, 3),
            "unit": "s",
            "note": f"sweep interval {interval} s + the max above; budget ≤ interval + 2 s "
            f"({_verdict(worst <= interval + 2)})",
        },
    ]
