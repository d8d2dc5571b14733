"""Demo incidents for `manage.py seed_demo` (idempotent: keyed by title).

- ``DEMO``: open incidents in every state, happening now.
- links (issue 18): a duplicate pair to merge, a major incident with its children, and an
  incident on hold for 90 minutes (its SLA explanation shows the paused interval).
- ``HISTORY``: closed P1/P2 incidents of the last 60 days, lived through the real services at
  their own moments (``travel``), so the dashboard has figures: MTTA/MTTR, escalation steps
  taken by the clock and by people, postmortems published on time and one late.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.utils import timezone

from itsm.core import workflow
from itsm.core.demo import best_effort, can_travel, days_ago, travel
from itsm.core.models import Service

from . import escalation, services
from .models import ActionItem, Incident, Runbook

logger = logging.getLogger(__name__)

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
    from . import demo_escalation

    demo_escalation.page_on_call()  # before the demo incidents page anybody
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

    seed_links(users)
    seed_history(users)
    demo_escalation.seed(users)  # a clearly labelled demo P1 that escalates within minutes


# --------------------------------------------------------------------------- links

DUPLICATE = "カート画面で500エラー (利用者報告) / Cart shows error 500 (user report)"
ORIGINAL = "カートAPIのエラー率上昇 / Cart API error rate up"
PARENT = "[大規模] 東日本リージョン障害 / Major: east region outage"
ON_HOLD = "返金処理の一部失敗（カード会社回答待ち） / Some refunds fail (waiting for the vendor)"
CHILDREN = [
    "会員ポータルのログイン遅延 / Member portal login slow",
    "決済の一部タイムアウト / Some payments time out",
]


def seed_links(users: dict) -> None:
    """A duplicate waiting to be merged, and a parent with two children (links panel)."""
    from .choices import HoldReason
    from .holds import put_on_hold
    from .links import link_incidents
    from .models import LinkKind

    operator = users["operator"]
    if Incident.objects.filter(title=PARENT).exists():
        return

    def open_(title, slug, minutes_ago, priority="P2"):
        return services.open_incident(
            title=title,
            description="デモデータ / demo data",
            source="monitoring",
            service=Service.objects.filter(slug=slug).first(),
            priority=priority,
            actor=operator,
            detected_at=timezone.now() - timedelta(minutes=minutes_ago),
        )

    waiting = open_(ON_HOLD, "payments", 180, priority="P3")
    with travel(timezone.now() - timedelta(minutes=90)) if can_travel() else nullcontext():
        put_on_hold(
            waiting,
            actor=operator,
            reason=HoldReason.WAITING_FOR_VENDOR,
            until=timezone.now() + timedelta(days=2),
            comment="カード会社の回答待ち / Waiting for the card network's answer",
        )
    original = open_(ORIGINAL, "web-shop", 18)
    duplicate = open_(DUPLICATE, "web-shop", 11, priority="P3")
    link_incidents(duplicate, original, kind=LinkKind.DUPLICATE_OF, actor=operator)
    parent = open_(PARENT, "member-portal", 40, priority="P1")
    for n, title in enumerate(CHILDREN):
        child = open_(title, ["member-portal", "payments"][n], 35 - n * 5)
        link_incidents(parent, child, kind=LinkKind.PARENT_OF, actor=operator)


# --------------------------------------------------------------------------- history


P1 = ("all_users", "revenue_loss", "immediate")
P2 = ("single_feature", "revenue_loss", "immediate")

# title, service, triage, detected (days ago, hour, minute), minutes to response start,
# minutes to recovery, manual escalations [(minutes after detection, who, reason, comment)],
# postmortem published "on_time" (a day after closing) or "late" (two days after its due time),
# root cause. The clock applies everything else that falls due (warnings, the response breach,
# automatic levels) at its exact due time, as the sweep would.
HISTORY = [
    (
        "在庫APIの応答停止 / Inventory API unresponsive",
        "web-shop",
        P1,
        (6, 10, 20),
        6,
        48,
        [],
        "on_time",
        "在庫APIのスレッドプールがGC停止で枯渇した",
    ),
    (
        "決済ゲートウェイの証明書期限切れ / Payment gateway certificate expired",
        "payments",
        P1,
        (13, 2, 40),
        22,  # response target 15 min: breached, the clock escalates to L2
        90,
        [(35, "leader", "business_decision", "決済停止の告知要否の判断が必要")],
        "late",
        "証明書の更新期限が監視対象外だった",
    ),
    (
        "会員ポータルのセッション消失 / Member sessions lost",
        "member-portal",
        P2,
        (20, 14, 5),
        12,
        70,
        [(25, "operator", "technical_decision", "セッションストアの切り戻し可否の技術判断が必要")],
        "on_time",
        "セッションストアのフェイルオーバーでキーが消えた",
    ),
    (
        "夜間バッチ遅延による在庫不整合 / Stock mismatch after a late batch",
        "web-shop",
        P2,
        (27, 7, 30),
        41,  # response target 30 min: breached; not recovered for hours → L3, L4
        260,
        [],
        "on_time",
        "夜間バッチの依存ジョブ待ちにタイムアウトがなかった",
    ),
    (
        "CDN障害で商品画像が表示されない / Product images missing (CDN outage)",
        "web-shop",
        P1,
        (38, 16, 10),
        9,
        40,
        [],
        "on_time",
        "CDN事業者側の設定反映障害",
    ),
    (
        "決済の二重計上 / Duplicate card charges",
        "payments",
        P2,
        (52, 11, 0),
        18,
        185,
        [(60, "leader", "impact_expanding", "二重計上の件数が増え続けている")],
        "on_time",
        "リトライ処理に冪等キーがなかった",
    ),
]

# Its action item stays open past its due date: the dashboard's "overdue action items".
OVERDUE_ACTION_ITEM = HISTORY[3][0]


def _advance(clock, incident: Incident, moment: datetime) -> None:
    """Move to ``moment``, sweeping at every escalation deadline on the way (like the beat)."""
    while True:
        due = Incident.objects.filter(pk=incident.pk).values_list("next_deadline_at", flat=True)[0]
        if due is None or due > moment:
            break
        clock.move_to(due)
        escalation.sweep_deadlines()
    clock.move_to(moment)


def seed_history(users: dict) -> None:
    if not can_travel():
        return
    operator, leader = users["operator"], users["leader"]
    now = timezone.now()
    for row in HISTORY:
        title, slug, triage, when, to_response, to_recovery, manual, published, cause = row
        if Incident.objects.filter(title=title).exists():
            continue
        detected = days_ago(*when)
        scope, impact, urgency = triage
        with best_effort(title), travel(detected) as clock:
            incident = services.open_incident(
                title=title,
                description="デモデータ (過去の障害) / demo data (past incident)",
                source="monitoring",
                service=Service.objects.filter(slug=slug).first(),
                actor=operator,
                impact_scope=scope,
                business_impact=impact,
                urgency=urgency,
                detected_at=detected,
            )
            services.assign_incident(incident, actor=leader, assignee=operator)
            steps = [(m, "escalate", (who, reason, text)) for m, who, reason, text in manual]
            steps += [
                (to_response, "start_response", None),
                (to_response + 2, "start_recovery", None),
            ]
            steps += [(to_recovery, "verify", None)]
            for minutes, name, extra in sorted(steps, key=lambda step: step[0]):
                _advance(clock, incident, detected + timedelta(minutes=minutes))
                incident.refresh_from_db()
                if name == "escalate":
                    who, reason, text = extra
                    escalation.escalate_incident(
                        incident, actor=users[who], reason=reason, comment=text
                    )
                else:
                    workflow.perform(incident, name, actor=operator)
            clock.move_to(detected + timedelta(minutes=to_recovery + 30))
            incident.refresh_from_db()
            services.close_incident(
                incident, actor=leader, resolution_summary=f"{cause}。対処済み / fixed"
            )
            postmortem = incident.postmortem
            services.update_postmortem(
                postmortem,
                actor=operator,
                root_cause=cause,
                prevention_measures="監視の追加と手順書の更新 / Alerting added, runbook updated",
            )
            services.save_whys(
                postmortem,
                actor=operator,
                rows=[{"why": "なぜ発生したか / Why did it happen?", "because": cause}],
            )
            closed = incident.closed_at
            services.add_action_item(
                postmortem,
                actor=leader,
                title="再発防止策の実施 / Carry out the prevention measure",
                owner=operator,
                due_date=timezone.localdate(closed) + timedelta(days=3),
            )
            workflow.perform(postmortem, "submit_for_review", actor=operator)
            postmortem.refresh_from_db()
            publish_at = (
                closed + timedelta(days=1)
                if published == "on_time"
                else postmortem.due_at + timedelta(days=2)
            )
            clock.move_to(min(publish_at, now - timedelta(hours=1)))
            workflow.perform(postmortem, "publish", actor=leader)
            if title != OVERDUE_ACTION_ITEM:
                item = ActionItem.objects.filter(postmortem=postmortem).first()
                services.set_action_item_done(item, actor=operator, done=True)
