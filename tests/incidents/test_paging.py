"""Paging the person on call (issue 16 §3–4): who is paged, repeats, acknowledgement from the
web, the bell, the API and a signed one-time link, the climb when nobody acknowledges, and the
hand-off summary at a shift change. Time-travelled at exact instants (JST)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import acknowledgement, escalation, handoff, paging, services
from incidents.models import Incident, Page
from incidents.snapshot import LevelSnapshot
from itsm.core import workflow
from itsm.core.audit import events_for
from itsm.core.models import Notification
from itsm.core.roles import Role
from oncall.models import Override

from .factories import on_call_crew

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2025, 6, 2, 10, 0, tzinfo=JST)  # a Monday
MAJOR = {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"}
P3 = {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def crew(make_user):
    return on_call_crew(make_user, start=date(2025, 6, 2))


def file(**kwargs) -> Incident:
    with time_machine.travel(T0, tick=False):
        return services.open_incident(title="Checkout down", source="monitoring", **kwargs)


def in_app(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, channel="in_app").order_by("id"))


def test_the_on_call_person_is_paged_not_the_whole_team(crew):
    incident = file(**MAJOR)
    pages = list(Page.objects.filter(incident=incident, level=1))
    assert [(p.user.username, p.target) for p in pages] == [("a", "schedule")]
    assert in_app(crew["b"]) == [] and in_app(crew["c"]) == []
    note = in_app(crew["a"])[0]
    assert note.params["ack_action"] == reverse("incidents:acknowledge", args=[incident.number])
    assert note.params["ack_url"].startswith("/incidents/ack/")
    paged = [e.data.get("paged") for e in incident.timeline.filter(kind="paging")]
    assert [crew["a"].pk] in paged


def test_an_override_is_paged_instead_of_the_rotation(crew):
    Override.objects.create(
        schedule=crew["primary"], user=crew["c"], start=at(-60), end=at(120), reason="swap"
    )
    incident = file(**MAJOR)
    assert list(
        Page.objects.filter(incident=incident, level=1).values_list("user__username", flat=True)
    ) == ["c"]


def test_a_gap_in_the_schedule_pages_the_team_and_says_so(crew):
    crew["layer"].rotation_members.all().delete()
    incident = file(**MAJOR)
    paged = set(
        Page.objects.filter(incident=incident, level=1).values_list("user__username", "target")
    )
    assert paged == {("a", "gap"), ("b", "gap"), ("c", "gap")}
    gap = incident.timeline.get(kind="paging", data__gap="ops-primary")
    assert gap.data["team"] == "ops-l1"
    assert "Ops primary" in gap.text and "10:00" in gap.text and "Ops L1" in gap.text


def test_nobody_acknowledges_the_next_level_is_paged_after_the_wait(crew):
    incident = file(**P3)  # (a P1's 15-minute response target would breach at the same time)
    with time_machine.travel(at(14.9), tick=False):
        escalation.sweep_deadlines()
    assert Incident.objects.get(pk=incident.pk).escalation_level == 1
    with time_machine.travel(at(15), tick=False):
        escalation.sweep_deadlines()
    incident.refresh_from_db()
    assert incident.escalation_level == 2
    step = incident.escalation_steps.get(key="c1:L2")
    assert step.reason == "not_acknowledged"
    # The L1 page stops repeating once the incident climbed past it.
    assert set(
        Page.objects.filter(incident=incident, level=2).values_list("user__username", flat=True)
    ) == {"lead", "lead2"}
    assert Page.objects.get(incident=incident, level=1).stopped_at == at(15)


def test_acknowledging_stops_paging_and_counts_as_the_response(crew):
    incident = file(**MAJOR)
    with time_machine.travel(at(4), tick=False):
        acknowledgement.acknowledge_incident(incident, actor=crew["a"], via="web")
    incident.refresh_from_db()
    assert incident.response_started_at == at(4)  # MTTA: 4 minutes
    assert incident.state == "investigating" and incident.assignee == crew["a"]
    page = Page.objects.get(incident=incident, level=1)
    assert (page.acknowledged_by, page.acknowledged_via, page.acknowledged_at) == (
        crew["a"],
        "web",
        at(4),
    )
    assert page.next_repeat_at is None
    assert [e.action for e in events_for(incident)].count("acknowledge") == 1
    with time_machine.travel(at(30), tick=False):
        assert paging.repeat_due_pages() == 0
    # §8.4 goes on counting from the response: not recovered 15 min after it → L2 (not at 15).
    with time_machine.travel(at(15), tick=False):
        escalation.sweep_deadlines()
    assert Incident.objects.get(pk=incident.pk).escalation_level == 1
    with time_machine.travel(at(19), tick=False):
        escalation.sweep_deadlines()
    incident.refresh_from_db()
    assert incident.escalation_level == 2
    assert incident.escalation_steps.get(key="c1:L2").reason == "not_recovered"


def test_acknowledging_twice_is_refused_and_strangers_may_not(crew, make_user):
    incident = file(**MAJOR)
    stranger = make_user(Role.EXECUTIVE, username="exec")
    with pytest.raises(workflow.TransitionForbidden):
        acknowledgement.acknowledge_incident(incident, actor=stranger)
    acknowledgement.acknowledge_incident(incident, actor=crew["a"])
    with pytest.raises(workflow.TransitionNotAllowed):
        acknowledgement.acknowledge_incident(incident, actor=crew["b"])


def test_unacknowledged_pages_repeat_at_their_interval(crew):
    incident = file(**MAJOR)
    with time_machine.travel(at(4.9), tick=False):
        assert paging.repeat_due_pages() == 0
    # A P1 pages L1's on-call person and, at once, the L2 leaders (§8.3.1): three pages.
    with time_machine.travel(at(5), tick=False):
        assert paging.repeat_due_pages() == 3
        assert paging.repeat_due_pages() == 0  # once per due time, however often it runs
    with time_machine.travel(at(11), tick=False):  # a late sweep sends one each, not two
        assert paging.repeat_due_pages() == 3
    page = Page.objects.get(incident=incident, level=1)
    assert page.repeats == 2 and page.next_repeat_at == at(15)
    keys = [n.key for n in in_app(crew["a"])]
    assert keys[-2:] == [
        f"{incident.number}:report:L1:repeat:1",
        f"{incident.number}:report:L1:repeat:2",
    ]


def test_low_urgency_pages_do_not_repeat(crew):
    incident = file(**P3)
    page = Page.objects.get(incident=incident, level=1)
    assert page.user == crew["a"] and page.next_repeat_at is None


def test_recovery_stops_the_paging(crew):
    incident = file(**MAJOR)
    with time_machine.travel(at(3), tick=False):
        for name in ("start_response", "start_recovery", "verify"):
            services.transition(incident, name, actor=None, system_label="test")
    assert not Page.objects.filter(incident=incident, next_repeat_at__isnull=False).exists()


# ---------------------------------------------------------------------------- signed links


def link_of(incident, user) -> str:
    """The link as the notification carries it (signed when the page went out, at T0)."""
    note = Notification.objects.get(
        recipient=user, channel="in_app", key=f"{incident.number}:report:L1"
    )
    return note.params["ack_url"]


def test_the_email_link_acknowledges_once_without_a_session(crew, client):
    incident = file(**MAJOR)
    url = link_of(incident, crew["a"])
    with time_machine.travel(at(2), tick=False):
        shown = client.get(url)
        assert shown.status_code == 200 and "対応します" in shown.content.decode()  # the button
        assert Page.objects.get(incident=incident, level=1).acknowledged_at is None  # GET asks
        done = client.post(url)
    assert done.status_code == 200
    page = Page.objects.get(incident=incident, level=1)
    assert (page.acknowledged_by, page.acknowledged_via) == (crew["a"], "email_link")
    assert Incident.objects.get(pk=incident.pk).response_started_at == at(2)
    with time_machine.travel(at(3), tick=False):
        replay = client.post(url)
    assert replay.status_code == 409
    assert "使用済み" in replay.content.decode()  # "used already" (Japanese UI by default)


def test_an_expired_link_is_refused(crew, client):
    incident = file(**MAJOR)
    url = link_of(incident, crew["a"])
    with time_machine.travel(T0 + timedelta(hours=24, seconds=1), tick=False):
        response = client.post(url)
    assert response.status_code == 410
    assert Page.objects.get(incident=incident, level=1).acknowledged_at is None


def test_a_tampered_link_is_refused(crew, client):
    incident = file(**MAJOR)
    page = Page.objects.get(incident=incident, level=1)
    forged = signing.dumps({"p": page.pk, "u": crew["b"].pk}, salt="wrong", compress=True)
    response = client.post(reverse("incidents:ack_link", args=[forged]))
    assert response.status_code == 400
    assert not Page.objects.filter(acknowledged_at__isnull=False).exists()


@pytest.mark.parametrize("compress", [True, False])
def test_a_link_signed_as_json_before_still_acknowledges(crew, client, compress):
    """Links went out as signed JSON objects (compressed, then not) before they were signed
    as ``<page>.<user>``: those still in people's mailboxes work until they expire."""
    incident = file(**MAJOR)
    page = Page.objects.get(incident=incident, level=1, user=crew["a"])
    with time_machine.travel(T0, tick=False):
        token = signing.dumps(
            {"p": page.pk, "u": crew["a"].pk}, salt=paging.ACK_LINK_SALT, compress=compress
        )
    with time_machine.travel(at(2), tick=False):
        response = client.post(reverse("incidents:ack_link", args=[token]))
    assert response.status_code == 200
    assert Page.objects.get(pk=page.pk).acknowledged_by == crew["a"]
    with time_machine.travel(T0 + timedelta(hours=24, seconds=1), tick=False):
        assert client.post(reverse("incidents:ack_link", args=[token])).status_code == 410


def test_a_link_for_another_page_or_person_is_refused(crew, client):
    """The page and the person are signed: changing either breaks the signature."""
    incident = file(**MAJOR)
    url = link_of(incident, crew["a"])
    page = Page.objects.get(incident=incident, level=1, user=crew["a"])
    other = Page.objects.filter(incident=incident).exclude(pk=page.pk).first()
    for forged in (
        url.replace(f"/{page.pk}.", f"/{other.pk}."),
        url.replace(f".{crew['a'].pk}:", f".{crew['b'].pk}:"),
    ):
        assert forged != url
        with time_machine.travel(at(1), tick=False):
            assert client.post(forged).status_code == 400
    assert not Page.objects.filter(acknowledged_at__isnull=False).exists()


def test_another_persons_link_is_refused_in_my_session(crew, client):
    incident = file(**MAJOR)
    url = link_of(incident, crew["a"])
    client.force_login(crew["b"])
    with time_machine.travel(at(1), tick=False):
        response = client.post(url)
    assert response.status_code == 403
    assert "別の人" in response.content.decode()  # "sent to another person"
    assert Page.objects.get(incident=incident, level=1).acknowledged_at is None


# ---------------------------------------------------------------------------- web and API


def test_one_click_from_the_bell_records_how(crew, client):
    incident = file(**MAJOR)
    client.force_login(crew["a"])
    response = client.post(
        reverse("incidents:acknowledge", args=[incident.number]),
        {"via": "notification", "next": "/notifications/"},
    )
    assert response.status_code == 302 and response.url == "/notifications/"
    assert Page.objects.get(incident=incident, level=1).acknowledged_via == "notification"


def test_the_incident_page_offers_acknowledgement_while_a_page_waits(crew, client):
    incident = file(**MAJOR)
    client.force_login(crew["a"])
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="acknowledge-button"' in page and 'data-testid="page-waiting"' in page
    client.post(reverse("incidents:acknowledge", args=[incident.number]))
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="acknowledge-button"' not in page
    assert 'data-testid="page-acknowledged"' in page


def test_api_acknowledgement(crew, api_as):
    incident = file(**MAJOR)
    client = api_as(crew["a"])
    url = f"/api/v1/incidents/{incident.number}/acknowledge/"
    response = client.post(url)
    assert response.status_code == 200, response.content
    pages = {p["user"]: p for p in response.json()["pages"]}
    assert pages["a"]["acknowledged_via"] == "api" and pages["a"]["acknowledged_by"] == "a"
    assert response.json()["response_started_at"] is not None
    assert client.post(url).status_code == 409


# ---------------------------------------------------------------------------- hand-off


def test_the_incoming_person_gets_one_hand_off_summary(crew):
    incident = file(**MAJOR)
    with time_machine.travel(at(15), tick=False):
        escalation.sweep_deadlines()
    Incident.objects.filter(pk=incident.pk).update(assignee=crew["b"])
    handover = datetime(2025, 6, 9, 9, 0, tzinfo=JST)  # a → b
    with time_machine.travel(handover + timedelta(minutes=1), tick=False):
        assert handoff.send_handoffs() == 1
        assert handoff.send_handoffs() == 0  # once per shift
    note = [n for n in in_app(crew["b"]) if n.message == "incidents.handoff"]
    assert len(note) == 1
    params = note[0].params
    assert params["open_count"] == 1 and params["waiting_count"] == 1
    # It climbed to L2 at 10:15 on the 2nd (nobody acknowledged): during a's shift.
    assert params["escalated_count"] == 1
    assert params["open"][0]["number"] == incident.number
    assert not [n for n in in_app(crew["a"]) if n.message == "incidents.handoff"]


def test_acknowledging_an_untriaged_incident_records_the_response_without_a_state_change(crew):
    incident = file()  # no triage inputs: reported to L1, waiting for triage
    assert Page.objects.get(incident=incident).user == crew["a"]
    with time_machine.travel(at(2), tick=False):
        acknowledgement.acknowledge_incident(incident, actor=crew["a"], via="api")
    incident.refresh_from_db()
    assert incident.state == "detected"
    assert incident.response_started_at == at(2) and incident.assignee == crew["a"]


def test_the_levels_of_an_opening_are_looked_up_together(crew, make_user):
    """``paging.targets_of`` (an opening pages L1 and L2 at once): the same people and teams as
    each level looked up alone — the schedule's on-call person; a team, a person and a role's
    holders, each reached once and by the first of these — in one query for the teams and one
    for everyone they reach, however many levels."""
    make_user(Role.OPS_MANAGER, username="boss")
    make_user(Role.OPS_MANAGER, username="gone", is_active=False)
    primary, l2 = crew["primary"], crew["lead"].teams.get()
    levels = [
        (LevelSnapshot(level=1, schedule_id=primary.pk, schedule=primary.name), 1),
        (LevelSnapshot(level=2, team_id=l2.pk, role=Role.OPS_MANAGER, user_id=crew["lead2"].pk), 2),
        (None, 2),  # the teams on the rung
    ]
    now = at(60)
    together = paging.targets_of(levels, now=now)
    alone = {key: paging.targets(key[0], level=key[1], now=now) for key in levels}

    def who(found):
        return {user.username: target for user, target in found.people.values()}, found.teams

    assert {key: who(found) for key, found in together.items()} == {
        key: who(found) for key, found in alone.items()
    }
    assert who(together[levels[0]])[0] == {"a": "schedule"}
    assert who(together[levels[1]]) == (
        {"lead2": "person", "lead": "team", "boss": "role"},
        [l2],
    )
    assert who(together[levels[2]]) == ({"lead": "team", "lead2": "team"}, [l2])
    with CaptureQueriesContext(connection) as queries:
        paging.targets_of(levels[1:], now=now)  # the schedule's own lookups aside
    assert len(queries) == 2
