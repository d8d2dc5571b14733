"""Hand-off at a shift change (DESIGN.md § On-call and paging): the incoming on-call person
gets one summary of their team's open incidents — what is open, what waits for them (assigned to
them, or paged to them and not acknowledged), and what escalated during the last shift.

``send_handoffs`` is the beat task's service: it looks back ``HANDOFF_LOOKBACK`` for shifts that
started, so a beat that was down for a few minutes still sends them; each summary's
notification key names the schedule, the shift start and the person, so it is sent once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from itsm.core.notifications import notify
from oncall.models import Schedule
from oncall.selectors import shift_before, shift_starts

from .models import Incident, StepKind

HANDOFF_LOOKBACK = timedelta(minutes=15)
LISTED = 20  # incidents named per section; the counts are always complete
ESCALATIONS = (StepKind.AUTOMATIC, StepKind.MANUAL, StepKind.BREACH)


def send_handoffs(*, now: datetime | None = None) -> int:
    """Send the summary of every shift that started in the lookback window; returns how many
    summaries were written now."""
    now = now or timezone.now()
    shifts = [s for s in shift_starts(now - HANDOFF_LOOKBACK, now) if s.user is not None]
    schedules = Schedule.objects.select_related("team").in_bulk({s.schedule_id for s in shifts})
    return sum(
        handoff_summary(schedules[s.schedule_id], s) for s in shifts if s.schedule_id in schedules
    )


def _items(incidents) -> list[dict]:
    return [{"number": i.number, "title": i.title, "priority": i.priority} for i in incidents]


def handoff_summary(schedule: Schedule, shift) -> int:
    """Notify ``shift.user`` of their team's situation as their shift starts (once)."""
    team, user = schedule.team, shift.user
    # The team's incidents: assigned to it, or paging its people.
    open_incidents = (
        Incident.objects.open()
        .filter(Q(team=team) | Q(pages__user__teams=team))
        .distinct()
        .order_by("priority", "-id")
    )
    waiting = (
        Incident.objects.open()
        .filter(
            Q(assignee=user)
            | Q(
                pages__user=user,
                pages__acknowledged_at__isnull=True,
                pages__stopped_at__isnull=True,
            )
        )
        .distinct()
        .order_by("priority", "-id")
    )
    previous = shift_before(schedule, shift.start)
    since = previous.start if previous is not None else shift.start - timedelta(days=1)
    escalated = (
        Incident.objects.filter(
            Q(team=team) | Q(pages__user__teams=team),
            escalation_steps__kind__in=ESCALATIONS,
            escalation_steps__applied_at__gte=since,
            escalation_steps__applied_at__lt=shift.start,
        )
        .distinct()
        .order_by("-id")
    )
    params = {
        "schedule": schedule.name,
        "team": team.name,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
        "open_count": open_incidents.count(),
        "open": _items(open_incidents[:LISTED]),
        "waiting_count": waiting.count(),
        "waiting": _items(waiting[:LISTED]),
        "escalated_count": escalated.count(),
        "escalated": _items(escalated[:LISTED]),
    }
    created = notify(
        [user],
        key=f"handoff:{schedule.pk}:{shift.start.isoformat()}",
        message="incidents.handoff",
        params=params,
        url=f"{reverse('incidents:list')}?team={team.slug}&open=true",
        urgency="low",
    )
    return len(created)
