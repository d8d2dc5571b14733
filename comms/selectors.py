"""The status page's data (issue 17 §3), for signed-in staff or for the public.

Staff see every open, triaged incident; the public page counts the *published* ones only (a
public update posted, or the status set by the commander: ``published``), so what customers
see is what the communications lead decided to tell them.

One ``status_page(public=…)`` call costs five queries whatever the number of incidents: the
services, their open incidents (the partial index ``incident_open_service``), the updates of
those and of the incidents resolved within ``HISTORY_DAYS``, those resolved incidents, and the
maintenance windows. The public version carries no internal field: no incident number, title,
description or link, no names, internal updates never read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from incidents.choices import IncidentState
from incidents.models import Incident
from itsm.core.models import Service

from . import maintenance, status
from .choices import (
    SERVICE_STATUS_COLORS,
    UPDATE_STATUS_COLORS,
    Audience,
    ServiceStatus,
    UpdateStatus,
    worst,
)
from .models import PriorityComms, StakeholderUpdate, StatusPageService

HISTORY_DAYS = 7
MAX_RESOLVED = 20  # the newest resolved incidents shown; older ones are in the Atom feed
MAINTENANCE_DAYS = 14
MAX_UPDATES = 300


def public_id(incident_pk: int) -> str:
    """A stable identifier for the public page that does not reveal the incident's number."""
    key = settings.SECRET_KEY.encode()[:64]
    return hashlib.blake2b(str(incident_pk).encode(), key=key, digest_size=6).hexdigest()


@dataclass
class PageUpdate:
    pk: int
    status: str
    audience: str
    message_ja: str
    message_en: str
    posted_at: datetime

    @property
    def status_label(self) -> str:
        return str(UpdateStatus(self.status).label)

    @property
    def color(self) -> str:
        return UPDATE_STATUS_COLORS.get(self.status, "secondary")

    def message(self, language: str) -> str:
        first, second = (
            (self.message_ja, self.message_en)
            if language[:2] == "ja"
            else (self.message_en, self.message_ja)
        )
        return first or second


@dataclass
class PageIncident:
    pk: int
    public_id: str
    service_id: int
    service_name: str
    public_title: str
    status: str  # the service status it implies
    started_at: datetime
    resolved_at: datetime | None
    open: bool
    # Internal only (empty on the public page).
    number: str = ""
    title: str = ""
    priority: str = ""
    url: str = ""
    updates: list[PageUpdate] = field(default_factory=list)

    @property
    def phase(self) -> str:
        """The latest update's status; an open incident without one is being investigated."""
        if self.updates:
            return self.updates[0].status
        return UpdateStatus.INVESTIGATING if self.open else UpdateStatus.RESOLVED

    @property
    def phase_label(self) -> str:
        return str(UpdateStatus(self.phase).label)

    @property
    def phase_color(self) -> str:
        return UPDATE_STATUS_COLORS.get(self.phase, "secondary")

    @property
    def status_color(self) -> str:
        return SERVICE_STATUS_COLORS[self.status]

    @property
    def status_label(self) -> str:
        return str(ServiceStatus(self.status).label)


@dataclass
class PageService:
    pk: int
    name: str
    description: str
    status: str
    slug: str = ""
    public: bool = False

    @property
    def status_label(self) -> str:
        return str(ServiceStatus(self.status).label)

    @property
    def color(self) -> str:
        return SERVICE_STATUS_COLORS[self.status]


@dataclass
class PageMaintenance:
    service_names: list[str]
    starts_at: datetime
    ends_at: datetime
    in_progress: bool
    title: str = ""  # internal only
    reference: str = ""
    url: str = ""


@dataclass
class StatusPage:
    services: list[PageService]
    incidents: list[PageIncident]  # open ones first, then resolved within HISTORY_DAYS
    maintenance: list[PageMaintenance]
    generated_at: datetime
    public: bool

    @property
    def status(self) -> str:
        return worst(s.status for s in self.services)

    @property
    def status_label(self) -> str:
        return str(ServiceStatus(self.status).label)

    @property
    def color(self) -> str:
        return SERVICE_STATUS_COLORS[self.status]

    @property
    def active(self) -> list[PageIncident]:
        return [i for i in self.incidents if i.open]

    @property
    def resolved(self) -> list[PageIncident]:
        return [i for i in self.incidents if not i.open]


def _services(public: bool) -> list[PageService]:
    if public:
        rows = (
            StatusPageService.objects.filter(public=True, service__is_active=True)
            .select_related("service")
            .order_by("order", "service__name")
        )
        return [
            PageService(
                pk=row.service_id,
                name=row.display_name,
                description=row.public_description,
                status=ServiceStatus.OPERATIONAL,
                public=True,
            )
            for row in rows
        ]
    rows = Service.objects.filter(is_active=True).select_related("status_page").order_by("name")
    services = []
    for service in rows:
        page = getattr(service, "status_page", None)
        services.append(
            PageService(
                pk=service.pk,
                name=service.name,
                description=service.description,
                status=ServiceStatus.OPERATIONAL,
                slug=service.slug,
                public=bool(page and page.public),
            )
        )
    return services


_INCIDENT_FIELDS = (
    "pk",
    "number",
    "title",
    "service_id",
    "priority",
    "state",
    "detected_at",
    "closed_at",
    "recovered_at",
    "comms__service_status",
    "comms__public_title",
    "comms__last_update_status",
)


def status_page(*, public: bool, now: datetime | None = None) -> StatusPage:
    now = now or timezone.now()
    services = _services(public)
    by_pk = {s.pk: s for s in services}
    rules = PriorityComms.table()
    open_incidents = (
        Incident.objects.open().filter(service_id__in=by_pk).exclude(state=IncidentState.DETECTED)
    )
    if public:
        open_incidents = open_incidents.filter(published())
    open_rows = list(open_incidents.values(*_INCIDENT_FIELDS))
    open_ids = {row["pk"] for row in open_rows}
    since = now - timedelta(days=HISTORY_DAYS)
    updates = StakeholderUpdate.objects.filter(
        Q(incident_id__in=open_ids)
        | Q(posted_at__gte=since, incident__service_id__in=by_pk, incident__state="closed")
    )
    if public:
        updates = updates.filter(audience=Audience.PUBLIC)
    update_rows = list(
        updates.order_by("-posted_at", "-pk").values(
            "pk",
            "incident_id",
            "status",
            "audience",
            "message_ja",
            "message_en",
            "posted_at",
        )[:MAX_UPDATES]
    )
    closed_ids = {row["incident_id"] for row in update_rows} - open_ids
    closed_rows = (
        list(Incident.objects.filter(pk__in=closed_ids).values(*_INCIDENT_FIELDS))
        if closed_ids
        else []
    )
    incidents = {}
    for row in open_rows + closed_rows:
        incidents[row["pk"]] = _incident(row, by_pk, rules, public)
    for row in update_rows:
        incident = incidents.get(row.pop("incident_id"))
        if incident is not None:
            incident.updates.append(PageUpdate(**row))
    for incident in incidents.values():
        if incident.open:
            service = by_pk[incident.service_id]
            service.status = worst([service.status, incident.status])
    ordered = sorted(
        incidents.values(),
        key=lambda i: (not i.open, -(i.resolved_at or i.started_at).timestamp()),
    )
    ordered = [i for i in ordered if i.open] + [i for i in ordered if not i.open][:MAX_RESOLVED]
    return StatusPage(
        services=services,
        incidents=ordered,
        maintenance=_maintenance(by_pk, now, public),
        generated_at=now,
        public=public,
    )


def published() -> Q:
    """An incident the public hears of: it has a public update, or its commander set what the
    status page shows. Until then it is the team's business: an untriaged report or an internal
    P3 does not light up the public page by itself."""
    public_update = StakeholderUpdate.objects.filter(
        incident=OuterRef("pk"), audience=Audience.PUBLIC
    )
    return Q(comms__service_status__gt="") | Q(Exists(public_update))


def _incident(row: dict, services: dict, rules, public: bool) -> PageIncident:
    service = services[row["service_id"]]
    is_open = row["state"] != IncidentState.CLOSED
    incident = PageIncident(
        pk=row["pk"],
        public_id=public_id(row["pk"]),
        service_id=service.pk,
        service_name=service.name,
        public_title=row["comms__public_title"] or "",
        status=status.incident_status(
            priority=row["priority"],
            state=row["state"],
            override=row["comms__service_status"] or "",
            last_update_status=row["comms__last_update_status"] or "",
            rules=rules,
        ),
        started_at=row["detected_at"],
        resolved_at=None if is_open else (row["closed_at"] or row["recovered_at"]),
        open=is_open,
    )
    if not public:
        incident.number, incident.title, incident.priority = (
            row["number"],
            row["title"],
            row["priority"],
        )
        incident.url = reverse("incidents:detail", args=[row["number"]])
    return incident


def _maintenance(services: dict, now: datetime, public: bool) -> list[PageMaintenance]:
    found = []
    for window in maintenance.windows(services, now, now + timedelta(days=MAINTENANCE_DAYS)):
        names = [services[pk].name for pk in window.service_ids if pk in services]
        if not names:
            continue
        found.append(
            PageMaintenance(
                service_names=names,
                starts_at=window.starts_at,
                ends_at=window.ends_at,
                in_progress=window.in_progress(now),
                **(
                    {}
                    if public
                    else {"title": window.title, "reference": window.reference, "url": window.url}
                ),
            )
        )
    return found


def public_feed_updates(limit: int = 50):
    """The newest public updates of public services (the Atom feed), with their incidents."""
    return (
        StakeholderUpdate.objects.filter(
            audience=Audience.PUBLIC,
            incident__service__status_page__public=True,
        )
        .select_related("incident__service__status_page", "incident__comms")
        .order_by("-posted_at", "-pk")[:limit]
    )
