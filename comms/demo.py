"""Demo communication for ``manage.py seed_demo`` (after the incidents demo): the services on
the public status page, update templates, and the demo P1 (the web shop returning 503) with its
commander, communications lead and responders, an impact reduction on its timeline, the status
page set to *degraded* by its commander (the maintenance page serves the shop), a public and an
internal update, and its subscribers (a person, the executives' team, an address, and a
confirmed public subscriber of the web shop). Idempotent (keyed by titles and slugs)."""

from __future__ import annotations

from django.utils import timezone

from incidents import services as incident_services
from incidents.choices import TimelineKind
from incidents.models import Incident
from itsm.core.models import Service, Team

from . import services
from .choices import Audience, ServiceStatus, UpdateStatus
from .models import StatusPageService, Subscription, UpdateTemplate

P1_TITLE = "ECサイト全体が503を返す / Web shop returns 503"

PUBLIC_SERVICES = [
    # slug, public name, description, order
    ("web-shop", "オンラインショップ / Online shop", "ご注文・お支払い / Orders and checkout", 1),
    ("payments", "お支払い / Payments", "", 2),
    ("member-portal", "会員ページ / Member pages", "", 3),
]

TEMPLATES = [
    (
        "調査中 / Investigating",
        None,
        UpdateStatus.INVESTIGATING,
        "{service} で障害が発生しています。原因を調査中です。次回の更新は {next_update} 頃です。",
        "{service} is disrupted. We are investigating; next update around {next_update}.",
    ),
    (
        "影響軽減済み / Impact reduced",
        "web-shop",
        UpdateStatus.IDENTIFIED,
        "原因を特定しました。影響を抑えるため次の対応を行いました:\n{mitigations}\n"
        "次回の更新は {next_update} 頃です。",
        "We found the cause and reduced the impact:\n{mitigations}\n"
        "Next update around {next_update}.",
    ),
    (
        "復旧 / Resolved",
        None,
        UpdateStatus.RESOLVED,
        "{service} は復旧しました。ご不便をおかけしました。",
        "{service} has recovered. We apologise for the inconvenience.",
    ),
]


def seed(users: dict) -> None:
    for slug, name, description, order in PUBLIC_SERVICES:
        service = Service.objects.filter(slug=slug).first()
        if service is not None:
            StatusPageService.objects.get_or_create(
                service=service,
                defaults={
                    "public": True,
                    "public_name": name,
                    "public_description": description,
                    "order": order,
                },
            )
    for name, slug, status, ja, en in TEMPLATES:
        UpdateTemplate.objects.get_or_create(
            name=name,
            service=Service.objects.filter(slug=slug).first() if slug else None,
            defaults={"status": status, "message_ja": ja, "message_en": en},
        )
    incident = Incident.objects.open().filter(title=P1_TITLE).first()
    if incident is None or incident.stakeholder_updates.exists():
        return
    _seed_p1(incident, users)


def _seed_p1(incident: Incident, users: dict) -> None:
    leader, manager, operator = users["leader"], users["manager"], users["operator"]
    services.assign_roles(
        incident,
        actor=leader,
        commander=leader,
        comms_lead=manager,
        responders=[operator, users["operator2"]],
    )
    incident_services.add_timeline_entry(
        incident,
        actor=operator,
        kind=TimelineKind.MITIGATION,
        text="メンテナンスページへ切替え、注文受付は電話窓口へ誘導 / "
        "Switched to the maintenance page; orders taken by phone",
    )
    services.set_public_status(
        incident,
        actor=leader,
        service_status=ServiceStatus.DEGRADED,
        public_title="オンラインショップがご利用しづらい状況 / Online shop partly unavailable",
    )
    for who, kind in ((users["executive"], "user"), (Team.objects.get(slug="exec-l5"), "team")):
        services.subscribe(actor=manager, incident=incident, **{kind: who})
    services.subscribe(actor=manager, incident=incident, email="stakeholders@example.com")
    # A customer who subscribed on the public page and confirmed.
    public, _created = Subscription.objects.get_or_create(
        service=incident.service,
        email="customer@example.com",
        defaults={"public": True, "confirmed_at": timezone.now(), "language": "ja"},
    )
    services.post_update(
        incident,
        actor=manager,
        status=UpdateStatus.IDENTIFIED,
        audience=Audience.PUBLIC,
        message_ja="オンラインショップがご利用しづらくなっています。原因を特定し、復旧作業中です。"
        "お電話でのご注文は承っております。",
        message_en="The online shop is partly unavailable. We found the cause and are restoring "
        "it; orders are taken by phone.",
    )
    services.post_update(
        incident,
        actor=leader,
        status=UpdateStatus.IDENTIFIED,
        audience=Audience.INTERNAL,
        message_ja="DB接続プール枯渇。L2でプール拡張とアプリ再起動を実施中。",
        message_en="DB connection pool exhausted; L2 enlarging the pool and restarting the app.",
    )
