"""Approved changes' windows as scheduled maintenance on the status page (``comms.maintenance``,
registered by ``ChangesConfig.ready``): approved, scheduled or being implemented, with a
planned window touching the period, for the services they affect. One query."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.urls import reverse

from comms.maintenance import Maintenance

from .models import ChangeRequest

MAINTENANCE_STATES = (
    ChangeRequest.State.APPROVED,
    ChangeRequest.State.SCHEDULED,
    ChangeRequest.State.IMPLEMENTING,
)


def approved_windows(
    service_ids: Iterable[int], start: datetime, end: datetime
) -> list[Maintenance]:
    rows = (
        ChangeRequest.objects.filter(
            state__in=MAINTENANCE_STATES,
            planned_start__lt=end,
            planned_end__gt=start,
            services__in=list(service_ids),
        )
        .order_by("planned_start", "pk")
        .values_list("pk", "number", "title", "planned_start", "planned_end", "services")
    )
    found: dict[int, dict] = {}
    for pk, number, title, starts, ends, service in rows:
        entry = found.setdefault(
            pk,
            {"number": number, "title": title, "starts_at": starts, "ends_at": ends, "ids": []},
        )
        entry["ids"].append(service)
    return [
        Maintenance(
            service_ids=tuple(entry["ids"]),
            starts_at=entry["starts_at"],
            ends_at=entry["ends_at"],
            title=entry["title"],
            reference=entry["number"],
            url=reverse("changes:detail", args=[entry["number"]]),
        )
        for entry in found.values()
    ]
