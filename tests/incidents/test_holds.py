"""Holds (issue 18 part 2): pause the resolution clock only, with a reason; end by hand, on any
transition, or at the planned end (the beat sweep); audited and on the timeline; the API's
hold / resume / sla with field messages. Frozen instants (JST)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from incidents import holds, services, sla
from incidents.choices import HoldReason, TimelineKind
from incidents.models import Hold
from itsm.core.audit import events_for
from itsm.core.roles import Role

from .conftest import advance

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2026, 12, 9, 10, 0, tzinfo=JST)  # a Wednesday


@pytest.fixture
def p2(db):
    with time_machine.travel(T0, tick=False):
        incident = services.open_incident(title="Orders fail", source="monitoring", priority="P2")
        advance(incident, "start_response")
    return incident


def test_a_hold_pauses_the_resolution_clock_and_not_the_response_target(p2, operator):
    response_due = p2.response_due_at
    assert p2.resolution_due_at == T0 + timedelta(hours=8)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        hold = holds.put_on_hold(
            p2, actor=operator, reason=HoldReason.WAITING_FOR_VENDOR, comment="ticket #42"
        )
    p2.refresh_from_db()
    assert p2.resolution_due_at is None  # paused: no deadline
    assert p2.response_due_at == response_due
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        holds.end_hold(p2, actor=operator)
    p2.refresh_from_db()
    hold.refresh_from_db()
    assert (hold.ended_at, hold.ended_by) == (T0 + timedelta(hours=3), operator)
    assert p2.resolution_due_at == T0 + timedelta(hours=10)
    assert p2.response_due_at == response_due
    kinds = list(p2.timeline.filter(kind=TimelineKind.HOLD).values_list("text", flat=True))
    assert len(kinds) == 2 and "ticket #42" in kinds[0]
    assert [e.action for e in events_for(p2)][-2:] == ["hold", "end_hold"]


@translation.override("en")
def test_a_hold_is_refused_twice_and_on_a_closed_incident(p2, operator, incident_in):
    holds.put_on_hold(p2, actor=operator, reason=HoldReason.MONITORING)
    with pytest.raises(ValidationError) as refused:
        holds.put_on_hold(p2, actor=operator, reason=HoldReason.MONITORING)
    assert "already on hold" in str(refused.value.message_dict["incident"])
    closed = incident_in("closed", priority="P3")
    with pytest.raises(ValidationError) as refused:
        holds.put_on_hold(closed, actor=operator, reason=HoldReason.MONITORING)
    assert "closed" in str(refused.value.message_dict["incident"])
    with pytest.raises(ValidationError) as refused:
        holds.put_on_hold(p2, actor=operator, reason="lunch")
    assert "reason" in refused.value.message_dict


def test_resuming_an_incident_not_on_hold_is_refused(p2, operator):
    with pytest.raises(ValidationError):
        holds.end_hold(p2, actor=operator)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OPERATOR, True),
        (Role.OPS_LEADER, True),
        (Role.DEVELOPER, True),
        (Role.EXECUTIVE, False),
        (Role.CAB_MEMBER, False),
    ],
)
def test_who_may_put_an_incident_on_hold(p2, make_user, role, allowed):
    user = make_user(role)
    if allowed:
        holds.put_on_hold(p2, actor=user, reason=HoldReason.SCHEDULED_FIX)
        holds.end_hold(p2, actor=user)
    else:
        with pytest.raises(PermissionDenied):
            holds.put_on_hold(p2, actor=user, reason=HoldReason.SCHEDULED_FIX)
        assert not Hold.objects.exists()


def test_a_transition_ends_the_hold(p2, operator):
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        holds.put_on_hold(p2, actor=operator, reason=HoldReason.WAITING_FOR_VENDOR)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        services.transition(p2, "start_recovery", actor=operator)
    [hold] = Hold.objects.all()
    assert hold.ended_at == T0 + timedelta(hours=2) and hold.ended_by == operator
    p2.refresh_from_db()
    assert p2.resolution_due_at == T0 + timedelta(hours=9)
    assert events_for(p2)[len(events_for(p2)) - 1].data["why"] == "transition:start_recovery"


def test_a_hold_ends_at_its_planned_time(p2, operator):
    until = T0 + timedelta(hours=2)
    with time_machine.travel(T0, tick=False):
        holds.put_on_hold(p2, actor=operator, reason=HoldReason.SCHEDULED_FIX, until=until)
        assert holds.end_due_holds() == 0
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):  # the sweep runs late
        assert holds.end_due_holds() == 1
        assert holds.end_due_holds() == 0  # safe to run twice
    [hold] = Hold.objects.all()
    assert hold.ended_at == until and hold.ended_by is None
    p2.refresh_from_db()
    assert p2.resolution_due_at == T0 + timedelta(hours=10)
    explanation = sla.explain(p2, now=T0 + timedelta(hours=5))
    assert explanation.paused == timedelta(hours=2)
    assert explanation.counted == timedelta(hours=3)


def test_the_beat_schedule_sweeps_holds():
    from django.apps import apps

    schedule = apps.get_app_config("incidents").beat_schedule
    assert schedule["incidents.end_due_holds"]["task"] == "incidents.end_due_holds"


def test_the_api_holds_resumes_and_explains(p2, api_as, operator):
    api = api_as(operator)
    base = f"/api/v1/incidents/{p2.number}"
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        until = (T0 + timedelta(days=1)).isoformat()
        made = api.post(f"{base}/hold/", {"reason": "waiting_for_vendor", "until": until})
        assert made.status_code == 201, made.content
        assert made.json()["reason"] == "waiting_for_vendor"
        again = api.post(f"{base}/hold/", {"reason": "monitoring"}, format="json")
        assert again.status_code == 400 and "incident" in again.json()["errors"]
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        explained = api.get(f"{base}/sla/").json()
        assert explained["on_hold"] is True and explained["counted_seconds"] == 3600
        assert [i["reason"] for i in explained["intervals"]] == ["counted", "on_hold"]
        assert api.post(f"{base}/resume/").status_code == 200
        assert api.post(f"{base}/resume/").status_code == 400
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        explained = api.get(f"{base}/sla/").json()
    assert explained["status"] == "on_track" and explained["paused_seconds"] == 3600
    assert sum(i["seconds"] for i in explained["intervals"] if i["counted"]) == 7200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "lunch"}, "reason"),
        ({"reason": "monitoring", "until": "tomorrow"}, "until"),
        ({"reason": "monitoring", "until": "2026-12-09T09:00:00+09:00"}, "until"),
    ],
)
def test_the_api_refuses_a_bad_hold_with_a_field_message(p2, api_as, operator, body, field):
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        response = api_as(operator).post(f"/api/v1/incidents/{p2.number}/hold/", body)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_api_refuses_a_hold_without_permission(p2, api_as, make_user):
    response = api_as(make_user(Role.EXECUTIVE)).post(
        f"/api/v1/incidents/{p2.number}/hold/", {"reason": "monitoring"}
    )
    assert response.status_code == 403
    assert not Hold.objects.exists()


@time_machine.travel(T0 + timedelta(hours=1), tick=False)
def test_the_incident_page_shows_the_sla_panel(client, p2, operator):
    holds.put_on_hold(p2, actor=operator, reason=HoldReason.MONITORING)
    client.force_login(operator)
    page = client.get(p2.get_absolute_url()).content.decode()
    assert 'data-testid="sla-panel"' in page and 'data-testid="sla-hold"' in page


@time_machine.travel(T0 + timedelta(hours=1), tick=False)
def test_the_panel_puts_on_hold_and_resumes(client, p2, operator):
    client.force_login(operator)
    page = client.get(p2.get_absolute_url()).content.decode()
    assert 'data-testid="hold-form"' in page
    response = client.post(
        f"/incidents/{p2.number}/hold/",
        {"reason": "waiting_for_vendor", "until": "2026-12-10T09:00", "comment": "RMA"},
    )
    assert response.status_code == 302
    [hold] = Hold.objects.all()
    assert hold.ends_at_planned == datetime(2026, 12, 10, 9, 0, tzinfo=JST)
    assert 'data-testid="resume-form"' in client.get(p2.get_absolute_url()).content.decode()
    client.post(f"/incidents/{p2.number}/resume/")
    hold.refresh_from_db()
    assert hold.ended_at is not None and hold.ended_by == operator


@time_machine.travel(T0 + timedelta(hours=1), tick=False)
def test_the_panel_refuses_a_bad_reason_with_a_message(client, p2, operator):
    client.force_login(operator)
    response = client.post(f"/incidents/{p2.number}/hold/", {"reason": "lunch"}, follow=True)
    [message] = list(response.context["messages"])
    assert message.level_tag == "error" and "waiting_for_vendor" in message.message
    assert not Hold.objects.exists()


@time_machine.travel(T0 + timedelta(hours=1), tick=False)
def test_who_may_not_work_incidents_sees_no_hold_form(client, p2, make_user):
    client.force_login(make_user(Role.EXECUTIVE))
    page = client.get(p2.get_absolute_url()).content.decode()
    assert 'data-testid="sla-panel"' in page and 'data-testid="hold-form"' not in page
    assert client.post(f"/incidents/{p2.number}/hold/", {"reason": "monitoring"}).status_code == 403
