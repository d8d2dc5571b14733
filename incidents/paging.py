"""Paging (DESIGN.md § On-call and paging): who a level pages, the pages, their repeats, their
acknowledgement and the signed one-time links in notifications.

- ``targets``: the people a level reaches: the on-call person of its schedule (a gap falls back
  to the schedule's team, and the incident says so), its person, its team (everyone), its role
  (everyone); a level with none of these reaches the teams on its rung of the ladder, as before.
- ``page_level``: called by ``incidents.escalation`` in the step's transaction: one ``Page`` row
  and one notification per person (with their acknowledgement links), the team webhooks once.
- ``repeat_due_pages``: the beat's service: unacknowledged pages of high-urgency incidents are
  sent again every ``repeat_minutes`` until acknowledged, escalated past or recovered.
- ``acknowledge_pages`` / ``stop_pages``: the page side of ``services.acknowledge_incident`` and
  of the clock stopping or climbing.
- ``ack_link`` / ``page_for_link``: a signed, expiring, single-use link per page that works
  without a session (the email's "Acknowledge" link).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import F, Q
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from itsm.core.bulk import copy_row
from itsm.core.models import Team
from itsm.core.notifications import Notice, cancel_pending, notify
from oncall.models import Schedule
from oncall.selectors import on_call

from .choices import Priority, TimelineKind
from .models import EscalationStep, Incident, Page, PageTarget, TimelineEntry
from .snapshot import DEFAULT_REPEAT_MINUTES, LevelSnapshot

logger = logging.getLogger(__name__)

ACK_LINK_SALT = "incidents.page-ack"
DEFAULT_ACK_LINK_MAX_AGE = 24 * 3600
REPEAT_BATCH_SIZE = 200


def ack_link_max_age() -> int:
    return int(getattr(settings, "PAGE_ACK_LINK_MAX_AGE", DEFAULT_ACK_LINK_MAX_AGE))


def urgency_of(incident: Incident) -> str:
    """High for P1/P2 (and for an incident not triaged yet), low for P3/P4."""
    return "low" if incident.priority in (Priority.P3, Priority.P4) else "high"


# ---------------------------------------------------------------------------- who is paged


@dataclass
class Targets:
    people: dict = field(default_factory=dict)  # user pk → (user, PageTarget)
    teams: list = field(default_factory=list)
    gaps: list = field(default_factory=list)  # schedules nobody was on call in
    missing: list = field(default_factory=list)  # schedule names no longer there

    def add(self, users, target: str) -> None:
        for user in users:
            self.people.setdefault(user.pk, (user, target))


def targets(row: LevelSnapshot | None, *, level: int | None = None, now: datetime) -> Targets:
    """The people and teams a level reaches at ``now``."""
    return targets_of([(row, level)], now=now)[row, level]


def targets_of(levels, *, now: datetime) -> dict:
    """``targets`` of each (row, level) of ``levels``, keyed so: their teams in one query and
    everyone their teams, persons and roles reach in another (an opening reports to two levels
    at once: issue 20); a schedule's on-call person is looked up for each level naming one."""
    users = get_user_model().objects.filter(is_active=True)
    found, team_ids, rungs = {}, {}, {}
    for key in levels:
        row, level = key
        here = found[key] = Targets()
        if row and row.schedule_id:
            _on_call(here, row, users, now)
        explicit = row is not None and ((row.schedule_id and not here.missing) or row.user_id)
        if row and row.team_id:
            team_ids[key] = row.team_id
        elif not explicit:
            rungs[key] = row.level if row else level
    teams = (
        list(
            Team.objects.filter(
                Q(pk__in=set(team_ids.values())) | Q(escalation_level__in=set(rungs.values()))
            )
        )
        if team_ids or rungs
        else []
    )
    their_teams = {
        key: [
            t
            for t in teams
            if t.pk == team_ids.get(key) or (key in rungs and t.escalation_level == rungs[key])
        ]
        for key in found
    }
    # Everyone reached through a person, a team or a role, with the teams and roles they hold
    # (a row per team and role of theirs).
    person_ids = {row.user_id for row, _level in found if row and row.user_id}
    roles = {row.role for row, _level in found if row and row.role}
    reach: dict[int, tuple] = {}
    if person_ids or teams or roles:
        for user in (
            users.filter(Q(pk__in=person_ids) | Q(teams__in=teams) | Q(groups__name__in=roles))
            .annotate(via_team=F("teams"), via_role=F("groups__name"))
            .select_related("notification_preference")  # read by the notifications
            .order_by("pk")
        ):
            _user, user_teams, user_roles = reach.setdefault(user.pk, (user, set(), set()))
            user_teams.add(user.via_team)
            user_roles.add(user.via_role)
    for key, here in found.items():
        row = key[0]
        if row and row.user_id in reach:
            here.add([reach[row.user_id][0]], PageTarget.PERSON)
        if their_teams[key]:
            here.teams += their_teams[key]
            pks = {t.pk for t in their_teams[key]}
            here.add([u for u, t, _r in reach.values() if t & pks], PageTarget.TEAM)
        if row and row.role:
            here.add([u for u, _t, r in reach.values() if row.role in r], PageTarget.ROLE)
    return found


def _on_call(found: Targets, row: LevelSnapshot, users, now: datetime) -> None:
    """The on-call person of the level's schedule; in a gap, the schedule's team."""
    schedule = (
        Schedule.objects.select_related("team").filter(pk=row.schedule_id, is_active=True).first()
    )
    if schedule is None:
        found.missing.append(row.schedule or str(row.schedule_id))
        return
    on_duty = [s.user for s in on_call(schedule, now) if s.user and s.user.is_active]
    if on_duty:
        found.add(on_duty, PageTarget.SCHEDULE)
    else:
        found.gaps.append(schedule)
        found.teams.append(schedule.team)
        found.add(users.filter(teams=schedule.team).distinct(), PageTarget.GAP)


# ---------------------------------------------------------------------------- sending pages


def ack_link(page: Page) -> str:
    """The relative URL of the page's signed one-time acknowledgement link: the page and the
    person (``<page>.<user>``), timestamped and signed (a third of the cost and length of a
    signed JSON object; a burst signs thousands)."""
    token = signing.TimestampSigner(salt=ACK_LINK_SALT).sign(f"{page.pk}.{page.user_id}")
    return _path("incidents:ack_link", token)


def _link_ids(token: str) -> tuple:
    """(page pk, user pk) of a valid, unexpired link; ``signing.BadSignature`` (or its
    ``SignatureExpired``) otherwise. Links signed as JSON (sent before) verify too."""
    max_age = ack_link_max_age()
    value = signing.TimestampSigner(salt=ACK_LINK_SALT).unsign(token, max_age=max_age)
    page, dot, user = value.partition(".")
    if dot and page.isdigit() and user.isdigit():
        return int(page), int(user)
    try:
        data = signing.loads(token, salt=ACK_LINK_SALT, max_age=max_age)
    except ValueError as exc:  # signed, but neither form
        raise signing.BadSignature(token) from exc
    if not isinstance(data, dict):
        raise signing.BadSignature(token)
    return data.get("p"), data.get("u")


_SLOT = "url-slot"


def _path(name: str, arg: str) -> str:
    """``reverse(name, args=[arg])`` for an ``arg`` that is URL-safe (a signed token, an
    incident number): the path is reversed once and ``arg`` put in (a sweep builds thousands)."""
    return _pattern(name, get_script_prefix()).replace(_SLOT, arg)


@functools.cache
def _pattern(name: str, script_prefix: str) -> str:
    return reverse(name, args=[_SLOT])


def _timeline(incident: Incident, text: str, data: dict, batch=None) -> None:
    entry = TimelineEntry(
        incident=incident,
        actor_label="escalation clock",
        kind=TimelineKind.PAGING,
        text=text,
        data=data,
    )
    if batch is not None:
        batch.timeline.append(entry)
    else:
        entry.save(force_insert=True)


def page_level(
    incident: Incident,
    step: EscalationStep,
    row: LevelSnapshot | None,
    *,
    now: datetime,
    message: str,
    params: dict,
    actor=None,
    batch=None,
) -> int:
    """Page the people of ``row`` about ``step``; returns the number of people notified.

    Runs in the step's transaction: the ``Page`` rows and notification rows commit with it.
    With a sweep's ``batch`` (``escalation.SweepBatch``) the rows are handed to it and written
    with the batch's others; it counts the people notified onto the step then (returns 0).
    """
    found = (
        batch.targets(row, level=step.level) if batch else targets(row, level=step.level, now=now)
    )
    for schedule in found.gaps:
        _timeline(
            incident,
            _("Nobody is on call in %(schedule)s at %(time)s: the team %(team)s was paged instead.")
            % {
                "schedule": schedule.name,
                "time": date_format(timezone.localtime(now), "H:i"),
                "team": schedule.team.name,
            },
            {"step": step.key, "gap": schedule.slug, "team": schedule.team.slug},
            batch,
        )
    for name in found.missing:
        _timeline(
            incident,
            _("The on-call schedule %(schedule)s no longer exists: the level's teams were paged.")
            % {"schedule": name},
            {"step": step.key, "missing_schedule": name},
            batch,
        )
    urgency = urgency_of(incident)
    repeat = (row.repeat_minutes if row else DEFAULT_REPEAT_MINUTES) if urgency == "high" else 0
    actor_pk = getattr(actor, "pk", None)
    prototype = Page(
        level=step.level or 1,
        created_at=now,
        repeat_minutes=repeat,
        next_repeat_at=now + timedelta(minutes=repeat) if repeat else None,
    )
    pages = [
        copy_row(
            prototype,
            related={"incident": incident, "step": step, "user": user},
            target=target,
        )
        for user, target in found.people.values()
        if user.pk != actor_pk
    ]
    common = {
        "key": f"{incident.number}:{step.key}",
        "message": message,
        "url": _path("incidents:detail", incident.number),
        "urgency": urgency,
        "thread": incident.number,
        "actor": actor,
    }
    base = {"number": incident.number, "title": incident.title, **params}
    action = _path("incidents:acknowledge", incident.number)
    if batch is not None:
        batch.page(pages)
    else:
        pages = Page.objects.bulk_create(pages)
    notified = 0
    for page in pages:
        if batch is not None:
            # The acknowledgement link needs the page's id: the batch adds it once written.
            notice = Notice.of([page.user], params=base, links={"ack_action": action}, **common)
            batch.notify(step, notice, page=page)
            continue
        notified += len(
            notify(
                [page.user],
                params={**base, "ack_url": ack_link(page), "ack_action": action},
                **common,
            )
        )
    if found.teams and batch is not None:
        batch.notify(step, Notice.of([], params=base, teams=found.teams, **common))
    elif found.teams:
        notify([], params=base, teams=found.teams, **common)
    if pages:
        paged = ", ".join(sorted(str(p.user) for p in pages))
        _timeline(
            incident,
            _("Paged at L%(level)s: %(people)s") % {"level": step.level, "people": paged},
            {"step": step.key, "level": step.level, "paged": [p.user_id for p in pages]},
            batch,
        )
    return notified


def stop_pages(incident: Incident, *, below_level: int | None = None, now=None, batch=None) -> int:
    """Stop repeating the open pages of ``incident`` (those under ``below_level`` when the
    incident escalates; all when its clock stops) and drop their deliveries not yet sent.
    A sweep's ``batch`` read the incident's pages already and stops them with its writes."""
    if batch is not None:
        return batch.stop_pages(incident, below_level=below_level)
    now = now or timezone.now()
    pages = Page.objects.filter(
        incident=incident, acknowledged_at__isnull=True, stopped_at__isnull=True
    )
    if below_level is not None:
        pages = pages.filter(level__lt=below_level)
    keys = set(pages.values_list("step__key", flat=True))
    stopped = pages.update(stopped_at=now, next_repeat_at=None)
    cancel_pending(*(f"{incident.number}:{key}" for key in sorted(keys)))
    return stopped


def acknowledge_pages(incident: Incident, *, user, via: str, now: datetime) -> list[Page]:
    """Mark every open page of ``incident`` acknowledged by ``user`` (paging stops for their
    levels; deliveries not sent yet are dropped). The caller holds the incident's lock."""
    pages = list(
        Page.objects.select_for_update()
        .select_related("step")
        .filter(incident=incident, acknowledged_at__isnull=True, stopped_at__isnull=True)
    )
    Page.objects.filter(pk__in=[p.pk for p in pages]).update(
        acknowledged_at=now, acknowledged_by=user, acknowledged_via=via, next_repeat_at=None
    )
    cancel_pending(*(f"{incident.number}:{key}" for key in sorted({p.step.key for p in pages})))
    return pages


# ---------------------------------------------------------------------------- repeats


def repeat_due_pages(*, now=None, batch_size: int = REPEAT_BATCH_SIZE) -> int:
    """Send every page whose repeat is due once more; the beat task's service. Rows are locked
    with SKIP LOCKED, so concurrent sweeps share the work; each repeat has its own notification
    key, so a repeat is sent once whoever runs it."""
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                Page.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("incident", "step", "user")
                .filter(next_repeat_at__lte=now)
                .order_by("next_repeat_at")[:batch_size]
            )
            for page in batch:
                sent += _repeat(page, now=now)
        if len(batch) < batch_size:
            return sent


def _repeat(page: Page, *, now: datetime) -> int:
    incident = page.incident
    if not page.is_open or not incident.is_open or incident.recovered_at is not None:
        Page.objects.filter(pk=page.pk).update(next_repeat_at=None)
        return 0
    number = page.repeats + 1
    notify(
        [page.user],
        key=f"{incident.number}:{page.step.key}:repeat:{number}",
        message="incidents.page_repeat",
        params={
            "number": incident.number,
            "title": incident.title,
            "level": page.level,
            "repeat": number,
            "ack_url": ack_link(page),
            "ack_action": reverse("incidents:acknowledge", args=[incident.number]),
        },
        url=incident.get_absolute_url(),
        urgency=urgency_of(incident),
        thread=incident.number,
    )
    # Due times advance from the schedule, not from the sweep, so repeats never drift.
    following = page.next_repeat_at + timedelta(minutes=page.repeat_minutes)
    while following <= now:
        following += timedelta(minutes=page.repeat_minutes)
    Page.objects.filter(pk=page.pk).update(repeats=number, next_repeat_at=following)
    return 1


# ---------------------------------------------------------------------------- signed links


class LinkRefused(Exception):
    """A signed acknowledgement link that cannot be used; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def page_for_link(token: str, *, session_user=None) -> Page:
    """The page a link acknowledges, or ``LinkRefused``: tampered (400), expired (410), used
    (409), or opened in a session of somebody else (403)."""
    try:
        page_pk, user_pk = _link_ids(token)
    except signing.SignatureExpired as exc:
        raise LinkRefused(_("This acknowledgement link has expired."), 410) from exc
    except signing.BadSignature as exc:
        raise LinkRefused(_("This acknowledgement link is not valid."), 400) from exc
    page = (
        Page.objects.select_related("incident", "user", "acknowledged_by")
        .filter(pk=page_pk, user_id=user_pk)
        .first()
    )
    if page is None:
        raise LinkRefused(_("This acknowledgement link is not valid."), 400)
    if getattr(session_user, "is_authenticated", False) and session_user.pk != page.user_id:
        raise LinkRefused(
            _("This link was sent to another person. Acknowledge from the incident page."), 403
        )
    if page.link_used_at is not None:
        raise LinkRefused(_("This acknowledgement link has been used already."), 409)
    return page
