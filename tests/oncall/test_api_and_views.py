"""On-call API and screens (issue 16 §2, §7): who is on call per team and level, schedule,
layer and override writes (team leads only, field errors), the two-week timeline with overrides
and gaps, and the personal iCalendar feed with its revocable key."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from itsm.core.audit import events_for
from itsm.core.models import Team
from itsm.core.roles import Role
from oncall.models import Layer, LayerMember, Override, Schedule

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2025, 6, 4, 12, 0, tzinfo=JST)  # a Wednesday


@pytest.fixture
def crew(make_user):
    ann = make_user(Role.OPERATOR, username="ann")
    bob = make_user(Role.OPERATOR, username="bob")
    lead = make_user(Role.OPS_LEADER, username="lead")
    team = Team.objects.create(name="Ops", slug="ops", escalation_level=1)
    team.members.add(ann, bob)
    primary = Schedule.objects.create(team=team, name="Primary", slug="primary", level=1)
    Schedule.objects.create(team=team, name="Leads", slug="leads", level=2)
    layer = Layer.objects.create(
        schedule=primary, name="Weekly", handoff_time=time(9), start_date=date(2025, 6, 2)
    )
    LayerMember.objects.create(layer=layer, user=ann, position=0)
    LayerMember.objects.create(layer=layer, user=bob, position=1)
    return {"ann": ann, "bob": bob, "lead": lead, "team": team, "primary": primary}


def test_who_is_on_call_per_team_and_level(crew, api_as):
    client = api_as(crew["ann"])
    answer = client.get("/api/v1/oncall/", {"team": "ops", "at": NOW.isoformat()}).json()
    [team] = answer["teams"]
    assert [(lv["level"], lv["schedule"], lv["gap"]) for lv in team["levels"]] == [
        (1, "primary", False),
        (2, "leads", True),
    ]
    [person] = team["levels"][0]["on_call"]
    assert person["username"] == "ann" and person["override"] is False
    assert person["until"] == "2025-06-09T09:00:00+09:00"


def test_on_call_query_errors_are_400s(crew, api_as):
    client = api_as(crew["ann"])
    assert client.get("/api/v1/oncall/", {"team": "nope"}).status_code == 400
    bad = client.get("/api/v1/oncall/", {"at": "yesterday"})
    assert bad.status_code == 400 and "at" in str(bad.json())


def test_a_team_lead_writes_schedules_layers_and_overrides_an_operator_may_not(crew, api_as):
    operator, lead = api_as(crew["ann"]), api_as(crew["lead"])
    layer = {
        "schedule": "leads",
        "name": "Daily",
        "rotation": "daily",
        "handoff_time": "09:00",
        "start_date": "2025-06-01",
        "members": ["lead"],
    }
    assert operator.post("/api/v1/oncall/layers/", layer, format="json").status_code == 403
    created = lead.post("/api/v1/oncall/layers/", layer, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["members"] == ["lead"]
    bad = lead.post("/api/v1/oncall/layers/", {**layer, "members": ["ghost"]}, format="json")
    assert bad.status_code == 400 and "members" in str(bad.json())
    override = {
        "schedule": "primary",
        "user": "bob",
        "replaces": "ann",
        "start": "2025-06-04T18:00:00+09:00",
        "end": "2025-06-05T09:00:00+09:00",
        "reason": "swap",
    }
    assert lead.post("/api/v1/oncall/overrides/", override, format="json").status_code == 201
    backwards = {**override, "end": "2025-06-04T17:00:00+09:00"}
    refused = lead.post("/api/v1/oncall/overrides/", backwards, format="json")
    assert refused.status_code == 400 and "end" in str(refused.json())
    assert [e.action for e in events_for(crew["primary"])] == ["override_add"]
    with time_machine.travel(NOW, tick=False):
        shifts = lead.get(
            "/api/v1/oncall/schedules/primary/shifts/",
            {"start": "2025-06-04T12:00:00+09:00", "end": "2025-06-05T12:00:00+09:00"},
        ).json()
    assert [(s["username"], s["override"]) for s in shifts] == [
        ("ann", False),
        ("bob", True),
        ("ann", False),
    ]


def test_the_timeline_shows_two_weeks_with_overrides_and_gaps(crew, client):
    Override.objects.create(
        schedule=crew["primary"],
        user=crew["bob"],
        start=datetime(2025, 6, 5, 18, 0, tzinfo=JST),
        end=datetime(2025, 6, 6, 9, 0, tzinfo=JST),
    )
    client.force_login(crew["ann"])
    with time_machine.travel(NOW, tick=False):
        page = client.get("/oncall/primary/").content.decode()
        leads = client.get("/oncall/leads/").content.decode()
    assert page.count('class="oncall-day"') == 14
    assert 'data-testid="timeline-override"' in page
    assert 'data-testid="timeline-shift"' in page
    assert 'data-testid="timeline-gap"' in leads  # no rotation: all red
    assert 'data-testid="new-layer-form"' not in page  # an operator only reads


def test_a_team_lead_adds_a_rotation_and_bad_input_is_a_form_error(crew, client):
    client.force_login(crew["lead"])
    form = {
        "new-name": "Nights",
        "new-rotation": "weekly",
        "new-length_days": "7",
        "new-handoff_time": "18:00",
        "new-start_date": "2025-06-02",
        "new-restriction": "off_hours",
        "new-priority": "2",
        "new-member_0": crew["bob"].pk,
        "new-member_1": crew["ann"].pk,
    }
    assert client.post("/oncall/primary/layers/", form).status_code == 302
    layer = Layer.objects.get(name="Nights")
    assert [m.user.username for m in layer.rotation_members.all()] == ["bob", "ann"]
    empty = client.post("/oncall/primary/layers/", {**form, "new-member_0": "", "new-member_1": ""})
    assert empty.status_code == 400 and "alert-danger" in empty.content.decode()


def test_my_shifts_feed_works_with_its_key_until_revoked(crew, client):
    client.force_login(crew["ann"])
    with time_machine.travel(NOW, tick=False):
        page = client.post("/oncall/my-shifts/", {"action": "issue"}).content.decode()
    url = page.split("<code>")[1].split("</code>")[0].replace("&amp;", "&")
    path = url.split("testserver", 1)[1]
    client.logout()
    with time_machine.travel(NOW, tick=False):
        feed = client.get(path)
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    body = feed.content.decode()
    assert "BEGIN:VEVENT" in body and "DTSTART:20250602T000000Z" in body
    client.force_login(crew["ann"])
    client.post("/oncall/my-shifts/", {"action": "revoke"})
    client.logout()
    assert client.get(path).status_code == 404
    assert client.get(path.split("key=")[0] + "key=forged.key").status_code == 404


def test_home_lists_my_next_shifts(crew, client):
    client.force_login(crew["bob"])
    with time_machine.travel(NOW, tick=False):
        home = client.get("/").content.decode()
    assert 'data-testid="home-my-shifts"' in home and "06-09 09:00" in home
