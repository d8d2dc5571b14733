"""Demo schedules for ``manage.py seed_demo`` (before the incidents demo, whose L1 and L2 then
page the person on call): the operators of ``ops-l1`` on a weekly rotation with a weekends and
holidays layer, the leaders of ``ops-l2`` on a daily rotation, and one override in the coming
days. Dates are relative to the moment of seeding; idempotent (keyed by slugs)."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone

from itsm.core.models import Team

from .models import Layer, LayerMember, Override, Schedule


def _rotation(schedule, name, people, **fields) -> None:
    layer, created = Layer.objects.get_or_create(schedule=schedule, name=name, defaults=fields)
    if created:
        LayerMember.objects.bulk_create(
            LayerMember(layer=layer, user=user, position=n) for n, user in enumerate(people)
        )


def seed(users: dict) -> None:
    l1, l2 = Team.objects.get(slug="ops-l1"), Team.objects.get(slug="ops-l2")
    operator = users["operator"]
    crew = [operator, users["operator2"], users["operator3"]]
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    primary, _ = Schedule.objects.get_or_create(
        slug="ops-l1-primary",
        defaults={"team": l1, "name": "運用一次対応 / Ops primary", "level": 1},
    )
    # Weekly hand-offs on Mondays 09:00, started three weeks ago: the operator has this week
    # (until Monday 09:00, last week's person); weekends and holidays go to the other two.
    start = monday - timedelta(weeks=3)
    _rotation(
        primary, "週次 / Weekly", crew, rotation="weekly", handoff_time=time(9), start_date=start
    )
    _rotation(
        primary,
        "休日 / Weekends & holidays",
        [crew[1], crew[2]],
        rotation="weekly",
        handoff_time=time(9),
        start_date=start,
        priority=2,
        restriction="weekends_holidays",
    )
    leads, _ = Schedule.objects.get_or_create(
        slug="ops-l2-leads",
        defaults={"team": l2, "name": "運用リーダー / Ops leaders", "level": 2},
    )
    _rotation(leads, "日次 / Daily", [users["leader"]], rotation="daily", start_date=start)
    if not Override.objects.filter(schedule=primary).exists():
        begins = timezone.localtime().replace(hour=18, minute=0, second=0, microsecond=0)
        Override.objects.create(
            schedule=primary,
            user=crew[2],
            replaces=operator,
            start=begins + timedelta(days=2),
            end=begins + timedelta(days=2, hours=15),
            reason="デモ: 通院のため交代 / demo: swap for an appointment",
            created_by=users["leader"],
        )
