"""Demo releases at every stage of the pipeline, with deployments (``manage.py seed_demo``)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from changes.models import ChangeRequest
from itsm.core.models import Service

from . import services
from .choices import DeploymentResult, Stage
from .models import AUTHORISING_CHANGE_STATES, Deployment, Environment, Release

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
        start = planned - dt.timedelta(days=len(deployed))
        for i, code in enumerate(deployed):
            at = start + dt.timedelta(days=i)
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
