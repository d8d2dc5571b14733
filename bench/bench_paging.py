"""Paging step cost (issue 16): what one escalation step costs when its level pages the person
on call in a schedule, compared with the same step paging a whole team, and what a sweep of due
page repeats costs.

PostgreSQL only. 1,000 due P3 incidents (rows generated in SQL, as bench_escalation does) reach
L2 in one sweep; their snapshot's L2 targets either a schedule (10 people on a weekly rotation:
one on-call lookup, one page, its notification rows) or the team of those 10 (ten pages). Then
1,000 due repeats of P1 pages are swept once.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import time as clock_time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bench.bench_escalation import _insert_clocks, _insert_incidents

DUE = 1_000
PEOPLE = 10


def _snapshot(**l2_targets) -> str:
    from incidents.models import EscalationPolicy

    snapshot = EscalationPolicy.objects.get(track="normal", service=None).snapshot()
    levels = tuple(
        replace(lv, **{"role": "", "team_id": None, **l2_targets}) if lv.level == 2 else lv
        for lv in snapshot.levels
    )
    return json.dumps(replace(snapshot, levels=levels).dump())


def run() -> list[dict]:
    from incidents import paging
    from incidents.models import EscalationStep, Incident, Page
    from itsm.core.models import Team, User
    from oncall.models import Layer, LayerMember, Schedule

    if connection.vendor != "postgresql":
        print("  skipped: needs PostgreSQL (DATABASE_URL=postgres://…)")
        return []
    team, _ = Team.objects.get_or_create(slug="bench-pager", name="Bench pager")
    people = [
        User.objects.get_or_create(username=f"bench-pager-{n}", email=f"pager{n}@example.com")[0]
        for n in range(PEOPLE)
    ]
    team.members.add(*people)
    schedule, _ = Schedule.objects.get_or_create(
        slug="bench-pager", defaults={"team": team, "name": "Bench pager", "level": 2}
    )
    layer = Layer.objects.create(
        schedule=schedule,
        name="Weekly",
        rotation="weekly",
        handoff_time=clock_time(9, 0),
        start_date=timezone.localdate() - timedelta(days=400),
    )
    LayerMember.objects.bulk_create(
        LayerMember(layer=layer, user=user, position=n) for n, user in enumerate(people)
    )
    on_call = _snapshot(schedule_id=schedule.pk, schedule=schedule.name)
    everyone = _snapshot(team_id=team.pk, team=team.name)

    # Warm-up, not measured.
    _insert_incidents("PW", 1, 200, due=True)
    _insert_clocks("PW", on_call)
    _sweep_once()

    results = {}
    for prefix, snapshot in (("PS", on_call), ("PT", everyone)):
        _insert_incidents(prefix, 1, DUE, due=True)
        _insert_clocks(prefix, snapshot)
        seconds, applied = _sweep_once()
        if applied != DUE:
            raise RuntimeError(f"expected {DUE} steps, got {applied}")
        pages = Page.objects.filter(incident__number__startswith=f"{prefix}-", level=2).count()
        results[prefix] = (seconds, pages)

    # Repeats: 1,000 open P1 pages whose repeat is due now.
    steps = list(
        EscalationStep.objects.filter(incident__number__startswith="PS-", key="c1:L2").values_list(
            "pk", "incident_id"
        )
    )
    Incident.objects.filter(number__startswith="PS-").update(priority="P1")
    now = timezone.now()
    Page.objects.filter(step_id__in=[pk for pk, _ in steps]).update(
        repeat_minutes=5, next_repeat_at=now - timedelta(seconds=1), stopped_at=None
    )
    started = time.perf_counter()
    repeated = paging.repeat_due_pages()
    repeat_seconds = time.perf_counter() - started

    (schedule_s, schedule_pages), (team_s, team_pages) = results["PS"], results["PT"]
    return [
        {
            "name": "step paging the on-call person",
            "figure": round(schedule_s / DUE * 1000, 2),
            "unit": "ms",
            "note": f"{DUE:,} due L2 steps; on-call lookup + {schedule_pages // DUE} page each",
        },
        {
            "name": f"step paging a team of {PEOPLE}",
            "figure": round(team_s / DUE * 1000, 2),
            "unit": "ms",
            "note": f"{DUE:,} due L2 steps; {team_pages // DUE} pages each",
        },
        {
            "name": "page repeat",
            "figure": round(repeat_seconds / max(repeated, 1) * 1000, 2),
            "unit": "ms",
            "note": f"{repeated:,} due repeats in one sweep (notification rows + next due time)",
        },
    ]


def _sweep_once() -> tuple[float, int]:
    """One in-process sweep: (seconds, steps applied)."""
    from incidents import escalation

    started = time.perf_counter()
    applied = escalation.sweep_deadlines()
    return time.perf_counter() - started, applied
