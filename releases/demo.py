"""Demo releases at every stage of the pipeline, with deployments (``manage.py seed_demo``).

``seed_history`` adds releases of the past weeks that used their release slots and reached
production through the services — deployments reported by the pipeline, each production step
authorised by an approved change being implemented — including a production deployment that
failed and was fixed by a second run: the dashboard's cadence adherence and DORA figures."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from changes import services as change_services
from changes.models import ChangeClass, ChangeRequest, RollbackCriterion
from itsm.core.demo import best_effort, can_travel, submitted_before, travel
from itsm.core.models import Service

from . import services
from .choices import DeploymentResult, Stage
from .models import AUTHORISING_CHANGE_STATES, Deployment, Environment, Release, ReleaseSlot

# name, service slug, type, version, strategy, state, days from now, stages deployed
DEMO_RELEASES = [
    ("2026 Q1 major", "web-shop", "major", "3.0.0", "canary", "planned", 40, []),
    (
        "Checkout improvements",
        "web-shop",
        "minor",
        "2.7.0",
        "canary",
        "development",
        12,
        ["development"],
    ),
    (
        "Weekly fixes #48",
        "payments",
        "patch",
        "5.3.2",
        "rolling",
        "testing",
        5,
        ["development", "testing"],
    ),
    (
        "Member search",
        "member-portal",
        "minor",
        "1.9.0",
        "blue_green",
        "staging",
        3,
        ["development", "testing", "staging"],
    ),
    (
        "Payment retries",
        "payments",
        "minor",
        "5.4.0",
        "canary",
        "canary",
        1,
        ["development", "testing", "staging", "canary"],
    ),
    (
        "Weekly fixes #47",
        "web-shop",
        "patch",
        "2.6.3",
        "rolling",
        "production",
        0,
        ["development", "testing", "staging", "production"],
    ),
    (
        "Weekly fixes #46",
        "member-portal",
        "patch",
        "1.8.4",
        "canary",
        "completed",
        -7,
        ["development", "testing", "staging", "canary", "production"],
    ),
    (
        "Coupon engine",
        "web-shop",
        "minor",
        "2.6.0",
        "canary",
        "rolled_back",
        -14,
        ["development", "testing", "staging", "canary"],
    ),
    (
        "Hotfix: card token expiry",
        "payments",
        "hotfix",
        "5.3.1-hf1",
        "blue_green",
        "completed",
        -3,
        ["staging", "production"],
    ),
]


def seed(users: dict) -> None:
    services.fill_release_slots()
    seed_history(users)
    owner = users.get("developer") or next(iter(users.values()))
    leader = users.get("leader", owner)
    envs = {e.code: e for e in Environment.objects.all()}
    change = ChangeRequest.objects.filter(state__in=AUTHORISING_CHANGE_STATES).first()
    now = timezone.now()
    for name, slug, kind, version, strategy, state, days, deployed in DEMO_RELEASES:
        service = Service.objects.filter(slug=slug).first()
        if service is None or Release.objects.filter(name=name, service=service).exists():
            continue
        planned = now + dt.timedelta(days=days)
        release = Release.objects.create(
            name=name,
            version=version,
            release_type=kind,
            service=service,
            planned_at=planned,
            strategy=strategy,
            strategy_rationale="",
            scope=f"{name} ({service.name})",
            owner=owner,
            state=state,
            staging_failures=1 if state in ("canary", "production", "completed") else 0,
            canary_skipped=strategy != "canary" and "production" in deployed,
            canary_failures=1 if state == "rolled_back" else 0,
            production_at=planned if "production" in deployed else None,
            completed_at=planned + dt.timedelta(hours=2) if state == "completed" else None,
            rolled_back_at=planned if state == "rolled_back" else None,
        )
        if change is not None and state in ("canary", "production", "completed"):
            release.changes.add(change)
        # One stage a day, the last one the day before the planned date — and never later than
        # an hour ago: a release planned in 12 days has been deployed to development already,
        # not 11 days from now.
        last = min(planned - dt.timedelta(days=1), now - dt.timedelta(hours=1))
        for i, code in enumerate(deployed):
            at = last - dt.timedelta(days=len(deployed) - 1 - i)
            result = DeploymentResult.SUCCEEDED
            if state == "rolled_back" and code == Stage.CANARY:
                result = DeploymentResult.ROLLED_BACK
            Deployment.objects.create(
                release=release,
                environment=envs[code],
                version=version,
                result=result,
                started_at=at,
                finished_at=at + dt.timedelta(minutes=12),
                reported_by=leader,
                reported_via="github-actions",
                external_id=f"demo-{release.number}-{code}",
                external_url=f"https://ci.example.com/{slug}/runs/{release.pk}{i}",
                commit_sha=f"{release.pk:04x}{i:04x}abcd",
                commits=[
                    {
                        "sha": f"{release.pk:04x}{i:04x}abcd",
                        "committed_at": (at - dt.timedelta(days=2)).isoformat(),
                    }
                ],
                notes="Error rate above the canary threshold" if result != "succeeded" else "",
            )


# name, service slug, version, strategy, production deployment fails once before it works.
# Each takes the next past slot of its type in the last 30 days (patch: one slot is left
# unused on purpose — cadence adherence below 100 %).
HISTORY = {
    "patch": [
        ("Weekly fixes #43", "web-shop", "2.6.0", "canary", True),
        None,  # a slot nobody used
        ("Weekly fixes #44", "payments", "5.3.0", "rolling", False),
        ("Weekly fixes #45", "member-portal", "1.8.3", "canary", False),
    ],
    "minor": [("Wishlist", "member-portal", "1.8.0", "canary", False)],
}
HISTORY_DAYS = 30


# The history's change requests need a requester and a different approver (§9.2).
HISTORY_USERS = {"operator", "manager", "developer", "leader"}


def seed_history(users: dict) -> None:
    if not users.keys() >= HISTORY_USERS or not can_travel():
        return
    now = timezone.now()
    services.fill_release_slots(now=now - dt.timedelta(days=HISTORY_DAYS + 7))
    for release_type, rows in HISTORY.items():
        slots = ReleaseSlot.objects.filter(
            release_type=release_type,
            starts_at__gte=now - dt.timedelta(days=HISTORY_DAYS - 1),
            starts_at__lt=now - dt.timedelta(days=1),
        ).order_by("starts_at")
        for slot, row in zip(slots, rows, strict=False):
            if row is not None and not Release.objects.filter(name=row[0]).exists():
                with best_effort(row[0]):
                    _ship(users, slot, *row)


def _ship(users, slot, name, slug, version, strategy, fails_once) -> None:
    """One release from its change request to production and completion, in its slot."""
    developer, leader = users["developer"], users["leader"]
    requester, manager = users["operator"], users["manager"]
    service = Service.objects.get(slug=slug)
    envs = {e.code: e for e in Environment.objects.all()}
    at = slot.starts_at
    normal = ChangeClass.objects.get(code="normal")
    submitted = submitted_before(normal.earliest_start, at, latest=at - dt.timedelta(days=8))
    with travel(submitted) as clock:
        change = change_services.create_change(
            actor=requester,
            services=[service],
            title=f"{name} ({service.name}) の本番リリース / production release",
            description=f"{name} {version}（デモデータ：過去のリリース）",
            category="application_deployment",
            change_class=normal,
            affected_users="全ユーザー：無停止デプロイ",
            risk_level="low",
            implementation_plan="1. カナリアで確認\n2. 本番へ段階的に展開",
            rollback_plan="直前のバージョンを再デプロイ",
            planned_start=at,
            planned_end=at + dt.timedelta(hours=3),
            implementer=requester,
        )
        change_services.submit_change(change, actor=requester)
        clock.move_to(submitted + dt.timedelta(days=1))
        change_services.decide_change(change, actor=manager, decision="approved")
        change.refresh_from_db()
        change_services.schedule_change(
            change,
            actor=requester,
            data={
                "planned_start": timezone.localtime(at).strftime("%Y-%m-%d %H:%M"),
                "planned_end": timezone.localtime(at + dt.timedelta(hours=3)).strftime(
                    "%Y-%m-%d %H:%M"
                ),
                "implementer": requester.pk,
            },
        )
        release = services.create_release(
            actor=developer,
            service=service,
            name=name,
            version=version,
            release_type=slot.release_type,
            strategy=strategy,
            strategy_rationale="" if strategy == "canary" else "設定変更のみで影響が限定的",
            slot=slot,
            scope=f"{name} ({service.name})",
            changes=[change],
        )
        commits = [
            {
                "sha": f"{release.pk:04x}{i:04x}c0ffee",
                "committed_at": (at - dt.timedelta(days=7 - i, hours=3)).isoformat(),
            }
            for i in range(3)
        ]
        stages = ["development", "testing", "staging"] + (
            ["canary"] if strategy == "canary" else []
        )

        def deploy(code, moment, result="succeeded", run=""):
            clock.move_to(moment)
            services.record_deployment(
                release=release,
                environment=envs[code],
                version=version,
                result=result,
                actor=leader,
                reported_via="github-actions",
                started_at=moment,
                finished_at=moment + dt.timedelta(minutes=12),
                external_id=f"demo-{release.number}-{code}{run}",
                external_url=f"https://ci.example.com/{slug}/runs/{release.pk}-{code}{run}",
                commit_sha=commits[-1]["sha"],
                commits=commits,
                notes="DB migration lock timeout" if result == "failed" else "",
            )

        for i, code in enumerate(stages):
            deploy(code, at - dt.timedelta(days=len(stages) - i, hours=-4))
        clock.move_to(at)
        change_services.start_implementation(
            change,
            actor=manager,
            data={"backup_waived": "on", "backup_waiver_reason": "アプリケーションのみの変更"},
        )
        if fails_once:
            deploy("production", at + dt.timedelta(minutes=15), "failed", "-1")
            deploy("production", at + dt.timedelta(minutes=95), run="-2")
        else:
            deploy("production", at + dt.timedelta(minutes=15))
        clock.move_to(at + dt.timedelta(hours=2, minutes=10))
        release.refresh_from_db()
        services.promote_release(release, actor=leader, comment="監視で問題なし")
        change.refresh_from_db()
        change_services.log_work(change, actor=requester, text=f"{version} を本番へ展開")
        change_services.perform_transition(change, "start_verification", actor=requester)
        change_services.verify_change(
            change,
            actor=requester,
            checks=dict.fromkeys(_criteria(), False),
        )
        change.refresh_from_db()
        change_services.close_change(
            change,
            actor=requester,
            data={"result_report": f"{name} {version} を展開", "documentation_updated": "on"},
        )


def _criteria():
    return RollbackCriterion.objects.filter(is_active=True).values_list("code", flat=True)
