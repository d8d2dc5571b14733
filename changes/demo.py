"""Demo data: changes of every class in every state, a freeze window and a standard template,
and (``seed_history``) changes of the last weeks lived through the services at their own moments:
a major change decided by the CAB's votes, a failed change rolled back, successful normal and
emergency changes — the dashboard's success rate, emergency ratio and CAB throughput.

Idempotent: each demo change is keyed by its title and only created when missing.

Every moment is planned from the business calendar, never from fixed calendar-day offsets: a
change starts a given number of days after its class's earliest start (``planned_start``), and a
past change was submitted early enough for its lead time (``submitted_before``), so the demo
seeds on a Thursday afternoon, across the year-end closure and in Golden Week alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from incidents.models import Incident
from itsm.core.demo import (
    LEAD_TIME_MARGIN,
    best_effort,
    can_travel,
    days_ago,
    submitted_before,
    travel,
)
from itsm.core.models import Service

from . import services
from .choices import Category, IncidentRelation, RiskLevel
from .models import (
    ChangeClass,
    ChangeRequest,
    FreezeWindow,
    RollbackCriterion,
    StandardChangeTemplate,
)


def _service(slug: str, name: str) -> Service:
    return Service.objects.get_or_create(slug=slug, defaults={"name": name})[0]


def planned_start(change_class: ChangeClass, *, days_after: int = 0) -> datetime:
    """The first full hour at least an hour after the class's earliest start for a change
    submitted now, ``days_after`` calendar days later (§9.2 lead times)."""
    earliest = timezone.localtime(change_class.earliest_start(timezone.now())) + LEAD_TIME_MARGIN
    start = earliest.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return start + timedelta(days=days_after)


def seed(users: dict) -> None:
    web = _service("web-portal", "Webポータル")
    db = _service("customer-db", "顧客DB")
    classes = {c.code: c for c in ChangeClass.objects.all()}
    now = timezone.localtime().replace(minute=0, second=0, microsecond=0)  # the freeze window
    requester, manager, leader = users["operator"], users["manager"], users["leader"]
    cab = [users[k] for k in ("cab1", "cab2", "cab3") if k in users]

    template, _ = StandardChangeTemplate.objects.get_or_create(
        name="TLS証明書の更新",
        defaults={
            "category": Category.SECURITY_CONFIGURATION,
            "description": "期限の近い証明書を更新する定型作業",
            "implementation_plan": "1. 新証明書を配置\n2. nginx -t\n3. nginx reload",
            "rollback_plan": "旧証明書に戻して nginx reload",
            "risk_level": RiskLevel.LOW,
            "owner": leader,
        },
    )
    template.services.add(web)
    freeze_start = (now + timedelta(days=40)).replace(hour=0)
    freeze, created = FreezeWindow.objects.get_or_create(
        name="年度末繁忙期フリーズ",
        defaults={
            "starts_at": freeze_start,
            "ends_at": freeze_start + timedelta(days=5),
            "reason": "繁忙期のため変更禁止",
        },
    )

    def make(title, cls, days_after, steps, *, service=web, risk=RiskLevel.MEDIUM):
        """A change starting ``days_after`` days after its class's earliest start."""
        if ChangeRequest.objects.filter(title=title).exists():
            return
        start = planned_start(classes[cls], days_after=days_after)
        change = services.create_change(
            actor=requester,
            services=[service],
            title=title,
            description=f"{title}（デモデータ）",
            category=Category.APPLICATION_DEPLOYMENT,
            change_class=classes[cls],
            affected_users="全ユーザー：作業中は読み取り専用",
            risk_level=risk,
            risk_notes="メンテナンス時間帯に実施",
            implementation_plan="1. 事前バックアップ\n2. デプロイ\n3. 動作確認",
            rollback_plan="直前のバージョンを再デプロイ",
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            implementer=requester,
        )
        for step in steps:
            step(change)

    submit = lambda c: services.submit_change(c, actor=requester)  # noqa: E731
    approve = lambda c: services.decide_change(c, actor=manager, decision="approved")  # noqa: E731
    schedule = lambda c: services.schedule_change(  # noqa: E731
        c,
        actor=requester,
        data={
            "planned_start": timezone.localtime(c.planned_start).strftime("%Y-%m-%d %H:%M"),
            "planned_end": timezone.localtime(c.planned_end).strftime("%Y-%m-%d %H:%M"),
            "implementer": requester.pk,
        },
    )
    implement = lambda c: services.start_implementation(  # noqa: E731
        c, actor=manager, data={"backup_waived": "on", "backup_waiver_reason": "ステートレス層"}
    )

    def verifying(c):
        services.log_work(c, actor=requester, text="デプロイ完了")
        services.perform_transition(c, "start_verification", actor=requester)

    def passed(c):
        services.verify_change(c, actor=requester, checks=_checks(False))

    def failed(c):
        services.verify_change(c, actor=requester, checks=_checks(False, slo_degradation=True))

    def close(c):
        services.close_change(
            c,
            actor=requester,
            data={"result_report": "問題なく完了", "documentation_updated": "on"},
        )

    def roll_back(c):
        services.roll_back_change(
            c,
            actor=requester,
            comment="p95 が SLO 超過",
            data={"rollback_steps": "v1 を再デプロイ"},
        )

    make("ログ出力設定の変更", "normal", 7, [])
    make("APIゲートウェイのタイムアウト変更", "normal", 7, [submit])
    make("決済モジュールの緊急修正", "emergency", 1, [submit])
    make("データベースのメジャーバージョンアップ", "major", 7, [submit], service=db, risk="high")
    make("検索インデックスの再構築", "normal", 7, [submit, approve])
    make("キャッシュ容量の拡張", "normal", 9, [submit, approve, schedule])
    make("通知サービスのデプロイ", "normal", 2, [submit, approve, schedule, implement])
    make("画像変換サービスの更新", "normal", 3, [submit, approve, schedule, implement, verifying])
    make("管理画面の文言修正", "normal", 4,
         [submit, approve, schedule, implement, verifying, passed, close])  # fmt: skip
    make("セッションストアの移行", "normal", 5,
         [submit, approve, schedule, implement, verifying, failed, roll_back])  # fmt: skip
    make("CDN設定の変更", "normal", 6, [submit, approve, schedule, implement, verifying, failed,
         roll_back, lambda c: services.perform_transition(c, "start_cause_analysis",
                                                            actor=requester)])  # fmt: skip
    make("メール送信ライブラリの更新", "normal", 7,
         [submit, lambda c: services.decide_change(c, actor=manager, decision="rejected",
                                                   comment="影響評価が不十分")])  # fmt: skip
    make("旧APIの廃止", "normal", 8,
         [lambda c: services.cancel_change(c, actor=requester, comment="計画変更")])  # fmt: skip
    if len(cab) >= 2:
        make("ストレージ基盤の刷新", "major", 13,
             [submit, lambda c: services.cast_cab_vote(c, member=cab[0], vote="approve",
                                                       comment="計画妥当")])  # fmt: skip
    if not ChangeRequest.objects.filter(template=template).exists():
        start = planned_start(classes["standard"], days_after=2)
        change = services.create_from_template(
            template, actor=requester, planned_start=start, planned_end=start + timedelta(hours=1)
        )
        services.submit_change(change, actor=requester)
    seed_history(users)


def _checks(default: bool, **overrides) -> dict[str, bool]:
    codes = RollbackCriterion.objects.filter(is_active=True).values_list("code", flat=True)
    return {code: overrides.get(code, default) for code in codes}


# title, class, service (slug, name), submitted (days ago, hour), implemented (days ago, hour),
# outcome ("passed" / "failed"), linked incident fixed by the change (title) or "".
HISTORY = [
    (
        "決済基盤のデータセンター移設 / Payments platform data-centre move",
        "major",
        ("customer-db", "顧客DB"),
        (26, 10),
        (15, 22),
        "passed",
        "",
    ),
    (
        "メッセージキューのバージョンアップ / Message queue upgrade",
        "normal",
        ("web-portal", "Webポータル"),
        (19, 11),
        (12, 21),
        "failed",
        "",
    ),
    (
        "ログローテーション設定の見直し / Log rotation settings",
        "normal",
        ("web-portal", "Webポータル"),
        (17, 15),
        (9, 20),
        "passed",
        "",
    ),
    (
        "WAFルールの更新 / WAF rule update",
        "normal",
        ("web-portal", "Webポータル"),
        (11, 10),
        (4, 20),
        "passed",
        "",
    ),
    (
        "決済ゲートウェイ証明書の緊急更新 / Emergency renewal of the payment gateway certificate",
        "emergency",
        ("payments", "Payments / 決済"),
        (13, 3),
        (13, 3),
        "passed",
        "決済ゲートウェイの証明書期限切れ / Payment gateway certificate expired",
    ),
]


def seed_history(users: dict) -> None:
    if not can_travel():
        return
    requester, manager = users["operator"], users["manager"]
    cab = [users[k] for k in ("cab1", "cab2", "cab3") if k in users]
    classes = {c.code: c for c in ChangeClass.objects.all()}
    for title, cls, (slug, name), submitted, implemented, outcome, fixes in HISTORY:
        if ChangeRequest.objects.filter(title=title).exists():
            continue
        start = days_ago(*implemented) + timedelta(minutes=5 if cls == "emergency" else 0)
        submitted_at = submitted_before(classes[cls].earliest_start, start, days_ago(*submitted))
        with best_effort(title), travel(submitted_at) as clock:
            change = services.create_change(
                actor=requester,
                services=[_service(slug, name)],
                title=title,
                description=f"{title}（デモデータ：過去の変更）",
                category=Category.INFRASTRUCTURE_CONFIGURATION
                if cls == "major"
                else Category.APPLICATION_DEPLOYMENT,
                change_class=classes[cls],
                affected_users="全ユーザー：作業中は一部機能が停止",
                risk_level=RiskLevel.HIGH if cls == "major" else RiskLevel.MEDIUM,
                risk_notes="深夜帯に実施し、検証後に判断",
                implementation_plan="1. 事前バックアップ\n2. 切り替え\n3. 動作確認",
                rollback_plan="切り替え前の構成に戻す",
                planned_start=start,
                planned_end=start + timedelta(hours=3),
                implementer=requester,
            )
            services.submit_change(change, actor=requester)
            if cls == "major":  # the CAB votes over the next days; the tally decides
                for i, member in enumerate(cab):
                    clock.move_to(submitted_at + timedelta(days=1 + i // 2, hours=i))
                    change.refresh_from_db()
                    if change.state != ChangeRequest.State.CAB_REVIEW:
                        break
                    services.cast_cab_vote(
                        change,
                        member=member,
                        vote="approve",
                        comment="移設計画と切り戻し手順を確認",
                    )
            else:
                clock.move_to(
                    submitted_at + timedelta(hours=2 if cls == "normal" else 0, minutes=3)
                )
                services.decide_change(change, actor=manager, decision="approved")
            change.refresh_from_db()
            services.schedule_change(
                change,
                actor=requester,
                data={
                    "planned_start": timezone.localtime(start).strftime("%Y-%m-%d %H:%M"),
                    "planned_end": timezone.localtime(change.planned_end).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                    "implementer": requester.pk,
                },
            )
            clock.move_to(start)
            services.start_implementation(
                change,
                actor=manager,  # §9.4: only the class's approver role may waive the backup
                data={"backup_waived": "on", "backup_waiver_reason": "構成のみの変更"}
                if cls != "major"
                else {
                    "backup_waived": "on",
                    "backup_waiver_reason": "移設前にDBの完全複製を取得済み",
                },
            )
            clock.move_to(start + timedelta(minutes=70))
            services.log_work(change, actor=requester, text="切り替え完了 / switched over")
            services.perform_transition(change, "start_verification", actor=requester)
            clock.move_to(start + timedelta(minutes=100))
            services.verify_change(
                change,
                actor=requester,
                checks=_checks(False, **({"slo_degradation": True} if outcome == "failed" else {})),
            )
            change.refresh_from_db()
            if outcome == "failed":
                services.roll_back_change(
                    change,
                    actor=requester,
                    comment="切り替え後にp95がSLOを超過",
                    data={"rollback_steps": "旧バージョンのクラスタへ切り戻し"},
                )
            else:
                if cls == "emergency":  # §9.2: reviewed after the fact before it is closed
                    services.record_post_implementation_review(
                        change, actor=manager, review="緊急対応として妥当 / justified as emergency"
                    )
                services.close_change(
                    change,
                    actor=requester,
                    data={"result_report": "計画どおり完了", "documentation_updated": "on"},
                )
            incident = Incident.objects.filter(title=fixes).first() if fixes else None
            if incident is not None:
                services.link_incident(
                    change, incident, relation=IncidentRelation.FIXED_BY, actor=requester
                )
