"""Demo of the escalation clock for ``manage.py seed_demo`` (called from incidents/demo.py).

A **demo-only** policy with short delays (2/2/3 minutes instead of the seed's 15/30/60) is bound
to a demo-only service, and a P1 on that service is left alone: under ``make run`` it visibly
climbs L1 → L2 → L3 (+ L5 executives) → L4 within about seven minutes. The real policies of
both tracks are untouched. Idempotent: keyed by names.
"""

from __future__ import annotations

from django.utils import timezone

from itsm.core.models import Service
from oncall.models import Schedule

from . import services
from .models import EscalationLevel, EscalationPolicy, Incident

DEMO_SERVICE = ("demo-escalation", "[DEMO] エスカレーション確認用 / Escalation demo")
DEMO_POLICY = "[DEMO] 短い間隔 (デモ専用) / Short delays (demo only)"
# level, name, after level, delay minutes, role, condition, notify only
DEMO_LADDER = [
    (1, "L1: 運用担当者 / Operators", 0, 0, "operator", "always", False),
    (2, "L2: 運用リーダー / Ops leaders", 1, 2, "ops_leader", "always", False),
    (3, "L3: 運用マネージャー / Ops managers", 2, 2, "ops_manager", "always", False),
    (4, "L4: 開発チーム / Developers", 3, 3, "developer", "always", False),
    (5, "L5: 経営層 / Executives", 3, 0, "executive", "major_impact", True),
]
DEMO_TITLE = "[DEMO] 放置されたP1: 数分ごとに自動エスカレーション / P1 left alone: escalates every few minutes"


def page_on_call() -> None:
    """The demo teams' on-call schedules (``oncall.demo``) answer for their rung: L1 and L2 of
    every active policy page the person on call (not the whole team or role). Idempotent."""
    for level in (1, 2):
        schedule = Schedule.objects.filter(
            team__slug=f"ops-l{level}", level=level, is_active=True
        ).first()
        if schedule is None:
            continue
        EscalationLevel.objects.filter(
            level=level, notify_only=False, policy__is_active=True, target_schedule__isnull=True
        ).update(target_schedule=schedule, target_role="")


def seed(users: dict) -> None:
    service, _ = Service.objects.get_or_create(
        slug=DEMO_SERVICE[0],
        defaults={
            "name": DEMO_SERVICE[1],
            "description": "デモ専用: 短い間隔のエスカレーションポリシーが適用されます。",
        },
    )
    policy, created = EscalationPolicy.objects.get_or_create(
        name=DEMO_POLICY,
        defaults={
            "track": "urgent",
            "service": service,
            "description": (
                "デモ専用 / DEMO ONLY: delays of minutes so the clock can be watched; "
                "real incidents use the seed's 15/30/60-minute policies."
            ),
        },
    )
    if created:
        for level, name, after, delay, role, condition, notify_only in DEMO_LADDER:
            EscalationLevel.objects.create(
                policy=policy,
                level=level,
                name=name,
                after_level=after,
                delay_minutes=delay,
                target_role=role,
                condition=condition,
                notify_only=notify_only,
            )
    page_on_call()
    if Incident.objects.filter(title=DEMO_TITLE, closed_at__isnull=True).exists():
        return
    services.open_incident(
        title=DEMO_TITLE,
        description="デモデータ: 対応を開始しないとエスカレーションが進みます / left alone on purpose",
        source="monitoring",
        service=service,
        impact_scope="all_users",
        business_impact="revenue_loss",
        urgency="immediate",
        actor=users["operator"],
        detected_at=timezone.now(),
    )
