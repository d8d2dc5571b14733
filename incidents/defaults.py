"""The seed's tables as default data (seed §8.1, §8.3.2), loaded by migration 0002.

The running system reads the admin-editable rows (TriageRule, UrgencyRule, ResponseTarget,
ResolutionTarget, Runbook); these constants are only the starting point and the fallback for a
missing row.
"""

from .choices import BusinessImpact as B
from .choices import Clock, Urgency
from .choices import ImpactScope as S

# §8.3.2 優先度判定: impact scope × business impact → priority.
TRIAGE_MATRIX = {
    (S.ALL_USERS, B.REVENUE_LOSS): "P1",
    (S.ALL_USERS, B.REPUTATION): "P1",
    (S.ALL_USERS, B.MINOR): "P2",
    (S.SOME_USERS, B.REVENUE_LOSS): "P2",
    (S.SOME_USERS, B.REPUTATION): "P2",
    (S.SOME_USERS, B.MINOR): "P3",
    (S.SINGLE_FEATURE, B.REVENUE_LOSS): "P2",
    (S.SINGLE_FEATURE, B.REPUTATION): "P3",
    (S.SINGLE_FEATURE, B.MINOR): "P4",
}

# 緊急度: immediate keeps the matrix result, planned lowers it one level (floor P4).
URGENCY_SHIFT = {Urgency.IMMEDIATE: 0, Urgency.PLANNED: 1}

# §8.1 インシデント分類: priority → (minutes, clock, definition, examples).
RESPONSE_TARGETS = {
    "P1": (
        15,
        Clock.ALWAYS,
        "サービス全停止 / Complete service outage",
        "全ユーザーがログインできない、決済が全件失敗する",
    ),
    "P2": (
        30,
        Clock.ALWAYS,
        "主要機能停止 / Major function down",
        "注文確定ができない、一部地域で接続不可",
    ),
    "P3": (
        120,
        Clock.ALWAYS,
        "一部機能停止 / Partial function down",
        "検索が遅い、特定ブラウザで表示崩れ",
    ),
    "P4": (
        8 * 60,
        Clock.BUSINESS,
        "軽微な問題 / Minor problem",
        "文言の誤り、管理画面の軽微な不具合",
    ),
}

# §8.3.3 復旧手順 ([手順1]…[手順3] in the seed), following its 対応原則.
DEFAULT_RUNBOOK = {
    "name": "標準復旧手順 / Standard recovery",
    "description": "まず復旧、原因究明は後。影響範囲の最小化を優先。コミュニケーションを密に。",
    "steps": [
        (
            "影響範囲を確認する / Confirm the impact",
            "監視ダッシュボードと問い合わせ状況から影響ユーザー・機能を特定し、タイムラインに記録する。",
        ),
        (
            "関係者へ第一報 / First status update",
            "影響と対応状況をタイムラインとチャットで共有する（以降30分ごとに更新）。",
        ),
        (
            "暫定対処で復旧する / Restore service",
            "直前の変更の切り戻し、再起動、待機系への切り替えなど、最短で復旧できる手段を取る。",
        ),
        (
            "復旧を確認する / Verify recovery",
            "主要な業務シナリオとメトリクスで正常性を確認する。",
        ),
        (
            "記録と引き継ぎ / Record and hand over",
            "実施内容と時刻をタイムラインに残し、恒久対策はポストモーテムで扱う。",
        ),
    ],
}

# §8.4 エスカレーションパス: L1 運用担当者 →(15分) L2 運用リーダー →(30分) L3 運用マネージャー
# →(60分) L4 開発チーム; L5 経営層 is told when an incident at L3 has major impact (重大影響).
# (level, name, after_level, delay minutes, role, condition, notify_only)
ESCALATION_LADDER = [
    (1, "L1: 運用担当者 / Operators", 0, 0, "operator", "always", False),
    (2, "L2: 運用リーダー / Ops leaders", 1, 15, "ops_leader", "always", False),
    (3, "L3: 運用マネージャー / Ops managers", 2, 30, "ops_manager", "always", False),
    (4, "L4: 開発チーム / Developers", 3, 60, "developer", "always", False),
    (5, "L5: 経営層 / Executives", 3, 0, "executive", "major_impact", True),
]
# One policy per track (緊急対応 P1/P2, 通常対応 P3/P4); both start from the seed's ladder.
ESCALATION_POLICIES = [
    ("緊急対応 / Urgent track (P1/P2)", "urgent"),
    ("通常対応 / Normal track (P3/P4)", "normal"),
]

# Issue 18 復旧目標時間: priority → (minutes, clock), from the clock start to recovery. Business
# days are stored as business minutes at the default working day (09:00–18:00 = 540 min), so
# "3 business days" is 3 × 540 = 1,620 business minutes (docs/sla.md).
BUSINESS_DAY_MINUTES = 9 * 60
RESOLUTION_TARGETS = {
    "P1": (4 * 60, Clock.ALWAYS),
    "P2": (8 * 60, Clock.ALWAYS),
    "P3": (3 * BUSINESS_DAY_MINUTES, Clock.BUSINESS),
    "P4": (5 * BUSINESS_DAY_MINUTES, Clock.BUSINESS),
}
