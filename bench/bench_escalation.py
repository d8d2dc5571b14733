"""Escalation sweep (DESIGN.md budgets): cost with 1,000 due deadlines among 10,000 vs
1,000,000 open incidents (budget ≤ 2×: the sweep scales with due rows, not open rows), and
deadline-to-notification-row latency (budget ≤ sweep interval + 2 s).

PostgreSQL only (``DATABASE_URL=postgres://… make bench``): rows are generated with
``generate_series`` in SQL, never through the ORM. Each due incident is a P3 20 minutes after
detection whose L2 step (15 min) is due: the sweep locks it, writes the step, the level, the
timeline entry, the audit event and the notification rows (in-app + email) for the L2 person.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

DUE = 1_000
SMALL = 10_000
LARGE = 1_000_000

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


def _sweep_once() -> tuple[float, int]:
    from incidents import escalation

    started = time.perf_counter()
    applied = escalation.sweep_deadlines()
    return time.perf_counter() - started, applied


def run() -> list[dict]:
    import json

    from incidents.models import EscalationPolicy, EscalationStep, Incident, IncidentEscalation
    from itsm.core.models import Notification, Team, User

    if connection.vendor != "postgresql":
        print("  skipped: needs PostgreSQL (DATABASE_URL=postgres://…)")
        return []
    leader, _ = User.objects.get_or_create(username="bench-leader", email="leader@example.com")
    team, _ = Team.objects.get_or_create(slug="bench-l2", name="Bench L2", escalation_level=2)
    team.members.add(leader)
    snapshot = json.dumps(
        EscalationPolicy.objects.get(track="normal", service=None).snapshot().dump()
    )

    # Warm-up (connections, caches, code paths), not measured.
    _insert_incidents("BW", 1, 200, due=True)
    _insert_clocks("BW", snapshot)
    _sweep_once()

    # 10,000 open incidents of which 1,000 are due.
    _insert_incidents("BS", 1, SMALL - DUE, due=False)
    _insert_incidents("BD1", 1, DUE, due=True)
    _insert_clocks("BD1", snapshot)
    small_seconds, small_applied = _sweep_once()

    # Grow to 1,000,000 open incidents; 1,000 new ones due.
    _insert_incidents("BL", 1, LARGE - SMALL, due=False)
    _insert_incidents("BD2", 1, DUE, due=True)
    _insert_clocks("BD2", snapshot)
    open_count = Incident.objects.filter(next_deadline_at__isnull=False).count()
    large_seconds, large_applied = _sweep_once()
    if (small_applied, large_applied) != (DUE, DUE):
        raise RuntimeError(f"expected {DUE} steps per sweep, got {small_applied}/{large_applied}")

    # Latency: 1,000 deadlines that pass now, swept right away (as the beat's tick would).
    _insert_incidents("BD3", 1, DUE, due=True)
    _insert_clocks("BD3", snapshot)
    deadline = timezone.now()
    Incident.objects.filter(number__startswith="BD3-").update(next_deadline_at=deadline)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE incidents_incidentescalation e SET started_at = %s - interval '15 minutes', "
            "level_reached_at = %s - interval '15 minutes' FROM incidents_incident i "
            "WHERE e.incident_id = i.id AND i.number LIKE 'BD3-%%'",
            [deadline, deadline],
        )
    _sweep_once()
    steps = EscalationStep.objects.filter(incident__number__startswith="BD3-", key="c1:L2")
    created = dict(
        Notification.objects.filter(
            key__in=[f"{n}:c1:L2" for n in steps.values_list("incident__number", flat=True)],
            channel="in_app",
        ).values_list("key", "created_at")
    )
    latencies = [(at - deadline).total_seconds() for at in created.values()]
    if len(latencies) != DUE:
        raise RuntimeError(f"expected {DUE} notification rows, got {len(latencies)}")
    interval = settings.SWEEP_INTERVAL_SECONDS
    # One deadline at a time (the usual case): 20 samples among the 1M open incidents.
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
        _sweep_once()
        row = Notification.objects.get(key=f"{number}:c1:L2", channel="in_app")
        single.append((row.created_at - at).total_seconds())
    worst = interval + max(single)

    note_small = f"{DUE:,} due among {SMALL:,} open"
    note_large = f"{DUE:,} due among {open_count:,} open"
    ratio = large_seconds / small_seconds
    return [
        {
            "name": "sweep, 10k open",
            "figure": round(small_seconds * 1000, 1),
            "unit": "ms",
            "note": note_small,
        },
        {
            "name": "sweep, 1M open",
            "figure": round(large_seconds * 1000, 1),
            "unit": "ms",
            "note": note_large,
        },
        {
            "name": "sweep cost ratio 1M / 10k",
            "figure": round(ratio, 2),
            "unit": "×",
            "note": f"budget ≤ 2× ({'met' if ratio <= 2 else 'MISSED'})",
        },
        {
            "name": "per due incident",
            "figure": round(large_seconds / DUE * 1000, 2),
            "unit": "ms",
            "note": "step + level + timeline + audit + 2 notification rows",
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
            f"({'met' if worst <= interval + 2 else 'MISSED'})",
        },
        {
            "name": "burst: 1,000 deadlines at once → rows, median",
            "figure": round(statistics.median(latencies), 3),
            "unit": "s",
            "note": "one sweep process; more workers share a burst (SKIP LOCKED)",
        },
        {
            "name": "burst: 1,000 deadlines at once → rows, max",
            "figure": round(max(latencies), 3),
            "unit": "s",
            "note": "the last of the 1,000",
        },
    ]
