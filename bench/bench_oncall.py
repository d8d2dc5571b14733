"""Who is on call (issue 16 budget): ``GET /api/v1/oncall/`` for 100 teams in one request,
each team with a primary schedule (weekly rotation of five, a weekends-and-holidays layer, an
override now) and a secondary one (daily rotation), through the Django test client. Budget
(DESIGN.md): p95 ≤ 50 ms."""

from __future__ import annotations

import statistics
import time
from datetime import time as clock
from datetime import timedelta

from django.test import Client
from django.utils import timezone

TEAMS = 100
PEOPLE = 5
RUNS = 40
WARMUP = 5


def run() -> list[dict]:
    from itsm.core.models import ApiToken, Team, User
    from oncall.models import Layer, LayerMember, Override, Schedule

    now = timezone.now()
    start = timezone.localdate() - timedelta(days=200)
    people = [
        User.objects.get_or_create(username=f"bench-oc-{n}", email=f"oc{n}@example.com")[0]
        for n in range(PEOPLE * 2)
    ]
    for t in range(TEAMS):
        team, _ = Team.objects.get_or_create(slug=f"bench-oc-{t}", defaults={"name": f"OC {t}"})
        primary = Schedule.objects.create(team=team, name=f"P{t}", slug=f"bench-oc-{t}-p", level=1)
        weekly = Layer.objects.create(
            schedule=primary, name="Weekly", handoff_time=clock(9), start_date=start
        )
        weekends = Layer.objects.create(
            schedule=primary,
            name="Weekends",
            handoff_time=clock(9),
            start_date=start,
            priority=2,
            restriction="weekends_holidays",
        )
        secondary = Schedule.objects.create(
            team=team, name=f"S{t}", slug=f"bench-oc-{t}-s", level=2
        )
        daily = Layer.objects.create(
            schedule=secondary, name="Daily", rotation="daily", start_date=start
        )
        LayerMember.objects.bulk_create(
            [LayerMember(layer=weekly, user=u, position=n) for n, u in enumerate(people[:PEOPLE])]
            + [
                LayerMember(layer=weekends, user=u, position=n)
                for n, u in enumerate(people[PEOPLE:])
            ]
            + [LayerMember(layer=daily, user=u, position=n) for n, u in enumerate(people)]
        )
        Override.objects.create(
            schedule=primary,
            user=people[-1],
            start=now - timedelta(hours=1),
            end=now + timedelta(hours=2),
        )
    token, raw = ApiToken.issue(people[0], name="bench", scope=ApiToken.Scope.READ)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def call():
        response = client.get("/api/v1/oncall/")
        assert response.status_code == 200, response.content[:300]
        return response

    assert len(call().json()["teams"]) >= TEAMS
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(RUNS):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    p95 = statistics.quantiles(samples, n=100, method="inclusive")[94]
    return [
        {
            "name": f"who is on call, {TEAMS} teams in one request, p95",
            "figure": round(p95, 1),
            "unit": "ms",
            "note": f"{TEAMS * 2} schedules, {TEAMS * 3} layers, {TEAMS} live overrides; budget ≤ 50 ms "
            f"({'met' if p95 <= 50 else 'NOT met'})",
        },
        {
            "name": "who is on call, median",
            "figure": round(statistics.median(samples), 1),
            "unit": "ms",
            "note": f"{RUNS} requests through the test client",
        },
    ]
