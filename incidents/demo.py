"""Demo incidents in every state, for `manage.py seed_demo` (idempotent: keyed by title)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from itsm.core import workflow
from itsm.core.models import Service

from . import services
from .models import Incident, Runbook

# title, service slug, source, (scope, impact, urgency) or None, transitions, minutes ago
DEMO = [
    ("決済APIがタイムアウトする / Payment API timing out", "payments", "monitoring", None, [], 4),
    (
        "会員ポータルにログインできない / Member portal login fails",
        "member-portal",
        "user_report",
        None,
        [],
        12,
    ),
    (
        "ECサイト全体が503を返す / Web shop returns 503",
        "web-shop",
        "monitoring",
        ("all_users", "revenue_loss", "immediate"),
        ["start_response", "start_recovery"],
        25,
    ),
    (
        "検索結果が遅い / Search results slow",
        "web-shop",
        "ops_discovery",
        ("some_users", "minor", "immediate"),
        ["start_response"],
        90,
    ),
    (
        "注文確認メールが遅延 / Order mails delayed",
        "web-shop",
        "monitoring",
        ("some_users", "reputation", "immediate"),
        [],
        20,
    ),
    (
        "管理画面の文言誤り / Typo in admin screen",
        "member-portal",
        "user_report",
        ("single_feature", "minor", "planned"),
        [],
        60 * 26,
    ),
    (
        "カード決済の一部失敗 / Some card payments failing",
        "payments",
        "monitoring",
        ("single_feature", "revenue_loss", "immediate"),
        ["start_response", "start_recovery", "verify"],
        180,
    ),
    (
        "DB接続枯渇による全面停止 / Outage: DB connections exhausted",
        "web-shop",
        "monitoring",
        ("all_users", "revenue_loss", "immediate"),
        ["start_response", "start_recovery", "verify", "close"],
        60 * 30,
    ),
]


def seed(users: dict) -> None:
    operator, leader = users["operator"], users["leader"]
    runbook = Runbook.objects.filter(is_active=True).first()
    now = timezone.now()
    for title, slug, source, triage, steps, minutes_ago in DEMO:
        if Incident.objects.filter(title=title).exists():
            continue
        incident = services.open_incident(
            title=title,
            description="デモデータ / demo data",
            source=source,
            service=Service.objects.filter(slug=slug).first(),
            actor=operator,
            detected_at=now - timedelta(minutes=minutes_ago),
        )
        if triage is None:
            continue
        scope, impact, urgency = triage
        services.triage_incident(
            incident, actor=operator, impact_scope=scope, business_impact=impact, urgency=urgency
        )
        services.add_timeline_entry(
            incident, actor=operator, text="影響範囲を確認中 / Confirming the impact"
        )
        if runbook is not None and steps:
            attached = services.attach_runbook(incident, actor=operator, runbook=runbook)
            for item in attached.items.all()[: len(steps)]:
                services.set_checklist_item(item, actor=operator, done=True)
        for name in steps:
            if name == "close":
                services.close_incident(
                    incident,
                    actor=leader,
                    resolution_summary="コネクションプールを拡張し再起動 / Enlarged the pool, restarted",
                )
            else:
                workflow.perform(incident, name, actor=operator)
        if incident.state == "closed" and hasattr(incident, "postmortem"):
            pm = incident.postmortem
            services.save_whys(
                pm,
                actor=leader,
                rows=[
                    {"why": "なぜ停止したか", "because": "DB接続が枯渇した"},
                    {
                        "why": "なぜ枯渇したか",
                        "because": "スケールアウト後もプール上限が固定だった",
                    },
                ],
            )
            services.add_action_item(
                pm,
                actor=leader,
                title="プール上限の自動調整 / Auto-size the pool",
                owner=operator,
                due_date=timezone.localdate() + timedelta(days=14),
            )

    from . import demo_escalation

    demo_escalation.seed(users)  # a clearly labelled demo P1 that escalates within minutes
