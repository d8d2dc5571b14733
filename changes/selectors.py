"""Read queries for change lists, the approval queue, the calendar and the home page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from itsm.core.roles import Role, has_role, ops_rank
from itsm.core.stats import grouped_stats, share

from . import calendar as calendar_sources
from .choices import ApprovalKind, ClassCode, Decision, Outcome
from .models import Approval, CabVote, ChangeRequest, FreezeWindow


def change_list() -> QuerySet[ChangeRequest]:
    return ChangeRequest.objects.select_related("change_class", "requester", "implementer")


def change_detail() -> QuerySet[ChangeRequest]:
    return (
        change_list()
        .select_related("template", "pre_change_backup__policy", "backup_waived_by")
        .prefetch_related(
            "services",
            Prefetch("votes", queryset=CabVote.objects.select_related("member")),
            "approvals__approver",
            "work_log__author",
            "links__incident",
            "verification_checks__criterion",
        )
    )


def awaiting_decision(user) -> QuerySet[ChangeRequest]:
    """Changes waiting for this user's decision: reviews for the class's approver role (never
    their own), and major changes in CAB review the member has not voted on yet."""
    if user is None or not user.is_authenticated:
        return ChangeRequest.objects.none()
    roles = [r for r in (Role.OPS_MANAGER, Role.OPS_LEADER) if has_role(user, r)]
    reviews = Q(state__in=["in_review", "emergency_review"], change_class__approver_role__in=roles)
    condition = reviews
    if has_role(user, Role.CAB_MEMBER):
        condition |= Q(state="cab_review") & ~Q(votes__member=user)
    return (
        change_list()
        .filter(condition)
        .exclude(requester=user)
        .distinct()
        .order_by("planned_start", "id")
    )


def reviews_pending(user) -> QuerySet[ChangeRequest]:
    """Emergency changes implemented without their post-implementation review, for the class's
    approver role (never the requester's own) — §9.2 緊急変更, reviewed after the fact."""
    if user is None or not user.is_authenticated:
        return ChangeRequest.objects.none()
    roles = [r for r in Role.values if has_role(user, r)]
    return (
        change_list()
        .filter(
            change_class__code=ClassCode.EMERGENCY,
            change_class__approver_role__in=roles,
            implementation_started_at__isnull=False,
            post_implementation_reviewed_at__isnull=True,
        )
        .exclude(state=ChangeRequest.State.CANCELLED)
        .exclude(requester=user)
        .order_by("implementation_started_at", "id")
    )


def cab_agenda() -> QuerySet[ChangeRequest]:
    return (
        change_list()
        .filter(state="cab_review")
        .prefetch_related(Prefetch("votes", queryset=CabVote.objects.select_related("member")))
        .order_by("planned_start", "id")
    )


def cab_decided(days: int = 14) -> QuerySet[ChangeRequest]:
    """Changes the CAB decided recently, newest decision first (the agenda's "decided" list:
    the last voter's item leaves the agenda, its outcome stays visible here)."""
    since = timezone.now() - timedelta(days=days)
    decisions = Approval.objects.filter(kind=ApprovalKind.CAB, at__gte=since)
    return (
        change_list()
        .filter(pk__in=decisions.values("change_id"))
        .annotate(cab_decided_at=Max("approvals__at", filter=Q(approvals__kind=ApprovalKind.CAB)))
        .prefetch_related(Prefetch("votes", queryset=CabVote.objects.select_related("member")))
        .order_by("-cab_decided_at", "-id")
    )


def my_queue(user) -> dict:
    """For the home page: approvals waiting for me, and my open changes (requested or to do)."""
    mine = (
        change_list()
        .filter(Q(requester=user) | Q(implementer=user), state__in=ChangeRequest.OPEN_STATES)
        .distinct()
        .order_by("planned_start", "id")
    )
    return {"awaiting_my_decision": awaiting_decision(user)[:20], "my_changes": mine[:20]}


def my_open_items(user) -> list[dict]:
    """The home page's "my work" card (contract in itsm/views.py): decisions waiting for me
    first, then post-implementation reviews I owe, then my open changes by planned start."""
    queue = my_queue(user)
    reviews = list(reviews_pending(user)[:20])
    review_ids = {c.pk for c in reviews}
    seen, items = set(), []
    for change in [*queue["awaiting_my_decision"], *reviews, *queue["my_changes"]]:
        if change.pk in seen:
            continue
        seen.add(change.pk)
        items.append(
            {
                "number": change.number,
                "title": change.title,
                "url": change.get_absolute_url(),
                "state_label": str(_("Review pending"))
                if change.pk in review_ids
                else change.get_state_display(),
                "due": change.planned_start,
            }
        )
    return items


def may_see_all(user) -> bool:
    return ops_rank(user) >= 1 or user.has_perm("changes.view_changerequest")


@dataclass
class CalendarDay:
    day: date
    in_month: bool
    changes: list = field(default_factory=list)
    freezes: list = field(default_factory=list)
    holiday: str | None = None
    entries: list = field(default_factory=list)  # other apps' items (changes.calendar)

    @property
    def is_today(self) -> bool:
        return self.day == timezone.localdate()

    @property
    def is_empty(self) -> bool:
        return not (self.changes or self.freezes or self.entries)


def calendar_entries(start: datetime, end: datetime):
    """Changes with a window in [start, end) in a calendar state, and freeze windows."""
    changes = list(
        change_list()
        .prefetch_related("services")
        .filter(
            state__in=ChangeRequest.CALENDAR_STATES,
            planned_start__lt=end,
            planned_end__gt=start,
        )
        .order_by("planned_start")
    )
    freezes = list(
        FreezeWindow.objects.filter(starts_at__lt=end, ends_at__gt=start).prefetch_related(
            "services"
        )
    )
    return changes, freezes


def conflicting_ids(changes) -> set[int]:
    """Ids of changes that overlap another change on a shared service (§ change calendar)."""
    ids: set[int] = set()
    for i, a in enumerate(changes):
        a_services = {s.pk for s in a.services.all()}
        for b in changes[i + 1 :]:
            if b.planned_start >= a.planned_end:
                continue
            if a.planned_start < b.planned_end and a_services & {s.pk for s in b.services.all()}:
                ids.update({a.pk, b.pk})
    return ids


def _days(first: date, last: date, *, month: int | None, calendar):
    """Calendar days ``first`` ≤ day < ``last`` with the changes, freeze windows and registered
    entries (releases, …) overlapping each, and the ids of conflicting changes."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last, time(0), tzinfo=tz)
    changes, freezes = calendar_entries(start, end)
    others = calendar_sources.entries_between(start, end)
    days, day = [], first
    while day < last:
        lo = datetime.combine(day, time(0), tzinfo=tz)
        hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        days.append(
            CalendarDay(
                day=day,
                in_month=month is None or day.month == month,
                changes=[c for c in changes if c.planned_start < hi and c.planned_end > lo],
                freezes=[f for f in freezes if f.starts_at < hi and f.ends_at > lo],
                holiday=calendar.holiday_name(day),
                entries=[e for e in others if e.overlaps(lo, hi)],
            )
        )
        day += timedelta(days=1)
    return days, conflicting_ids(changes)


def week_days(day: date, calendar) -> tuple[list[CalendarDay], set[int]]:
    """The week (Mon–Sun) containing ``day``, each day with its changes, freeze windows and
    registered entries."""
    monday = day - timedelta(days=day.weekday())
    return _days(monday, monday + timedelta(days=7), month=None, calendar=calendar)


def month_grid(year: int, month: int, calendar) -> tuple[list[list[CalendarDay]], set[int]]:
    """Weeks (Mon–Sun) covering the month, each day with its changes and freeze windows."""
    first = date(year, month, 1)
    grid_start = first - timedelta(days=first.weekday())
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    grid_end = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    days, conflicts = _days(grid_start, grid_end, month=month, calendar=calendar)
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    return weeks, conflicts


# --- metrics (dashboard)
# Definitions: docs/metrics.md § Changes. Plain data for a period [since, until) and an optional
# service slug, shared by the dashboard page, /api/v1/metrics/changes/ and the CSV export.


def change_metrics(*, since: datetime, until: datetime, service: str = "") -> dict:
    """Change success rate, emergency ratio and CAB throughput (§9.2, §9.3)."""
    changes = ChangeRequest.objects.all()
    decisions = Approval.objects.filter(kind=ApprovalKind.CAB, at__gte=since, at__lt=until)
    if service:
        changes = changes.filter(services__slug=service)
        decisions = decisions.filter(change__services__slug=service)
    # Success rate: changes whose implementation started in the period and whose outcome is
    # known (closed successful, or rolled back — failed from the roll back on).
    implemented = changes.filter(
        implementation_started_at__gte=since, implementation_started_at__lt=until
    ).aggregate(
        successful=Count("pk", filter=Q(outcome=Outcome.SUCCESSFUL)),
        failed=Count("pk", filter=Q(outcome=Outcome.FAILED)),
        in_progress=Count("pk", filter=Q(outcome="")),
    )
    # Emergency ratio and the class mix: changes submitted in the period.
    by_class = {code.value: 0 for code in ClassCode}
    submitted = (
        changes.filter(submitted_at__gte=since, submitted_at__lt=until)
        .values("change_class__code")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in submitted:
        code = row["change_class__code"] or "unclassified"
        by_class[code] = by_class.get(code, 0) + row["n"]
    total_submitted = sum(by_class.values())
    (cab,) = grouped_stats(
        decisions,
        counts={
            "approved": Q(decision=Decision.APPROVED),
            "rejected": Q(decision=Decision.REJECTED),
        },
        durations={"decision": ("at", "change__submitted_at")},
    )
    pending = changes.filter(state=ChangeRequest.State.CAB_REVIEW).count()
    judged = implemented["successful"] + implemented["failed"]
    return {
        "implemented": judged + implemented["in_progress"],
        "successful": implemented["successful"],
        "failed": implemented["failed"],
        "in_progress": implemented["in_progress"],
        "success_rate": share(implemented["successful"], judged),
        "submitted": total_submitted,
        "by_class": by_class,
        "emergency": by_class.get(ClassCode.EMERGENCY, 0),
        "emergency_ratio": share(by_class.get(ClassCode.EMERGENCY, 0), total_submitted),
        "cab": {
            "decided": cab["approved"] + cab["rejected"],
            "approved": cab["approved"],
            "rejected": cab["rejected"],
            "pending_now": pending,
            "decision_hours_p50": _hours(cab["decision_p50"]),
            "decision_hours_p90": _hours(cab["decision_p90"]),
        },
    }


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 1)
