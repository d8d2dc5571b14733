# ruff: noqa: F811  (pytest fixtures imported from sibling modules)
"""Issue 14 (a newcomer's first hour): old alert timestamps (#4), one source for the header's and
the panel's next escalation (#7), and the normal track on the P4 business clock (#13)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from incidents import escalation, services
from incidents.models import Incident, response_due_for
from intake import acceptance, parsing, processing
from itsm.core import timefmt
from itsm.core.roles import Role
from tests.incidents.conftest import advance
from tests.intake.helpers import am_alert, am_body, event, integration_fixture  # noqa: F401

from .test_escalation import ladder  # noqa: F401

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=JST)  # a Thursday
P3 = {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def deliver_am(integration, body):
    raw = json.dumps(body).encode()
    acceptance.accept_delivery(
        integration,
        fmt="alertmanager",
        body=raw,
        message=parsing.parse_alertmanager(json.loads(raw)),
    )
    processing.process_deliveries(integration.pk)


def render(client, user, incident) -> str:
    client.force_login(user)
    response = client.get(incident.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def by_testid(body: str, name: str) -> str | None:
    found = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', body)
    return found.group(1).strip() if found else None


# ---------------------------------------------------------------------------- #4 old alerts


def test_an_alert_firing_since_2024_counts_its_response_from_receipt(
    integration, ladder, client, make_user
):
    with time_machine.travel(NOW, tick=False):
        deliver_am(integration, am_body(am_alert()))  # startsAt 2024-05-01T10:00Z, critical → P1
        incident = Incident.objects.get()
        # The alert's own start stays the detection time …
        assert incident.detected_at == datetime(
            2024, 5, 1, 10, 0, 0, 123456, tzinfo=ZoneInfo("UTC")
        )
        # … but the response target and the escalation chain count from receipt.
        assert incident.clock_started_at == NOW
        assert (
            incident.response_due_at == response_due_for("P1", NOW) == NOW + timedelta(minutes=15)
        )
        notes = list(incident.timeline.values_list("text", flat=True))
        assert any(
            "The alert started 2024-05-01 19:00" in text
            and "response clock started when the portal received it at 2026-12-03 10:00" in text
            for text in notes
        ), notes
        assert escalation.sweep_deadlines() == 0  # nothing due at once: no straight jump to L4
        incident.refresh_from_db()
        assert incident.escalation_level == 1
        body = render(client, make_user(Role.OPERATOR, username="viewer"), incident)
    assert "2024-05-01 19:00" in by_testid(body, "detected-at")
    countdown = re.search(r'class="badge [^"]*countdown"[^>]*>([^<]*)<', body).group(1)
    assert countdown == "15:00" and "overdue" not in countdown
    # Ten minutes in, the chain has not moved past L1 (the 15-minute steps are still ahead).
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        escalation.sweep_deadlines()
    incident.refresh_from_db()
    assert incident.escalation_level == 1
    assert not incident.escalation_steps.filter(key__in=["c1:L3", "c1:L4"]).exists()


def test_an_events_v2_timestamp_from_2024_is_kept_but_the_clock_starts_at_receipt(integration):
    body = event(integration.raw_secret, timestamp="2024-05-01T10:00:00Z")
    with time_machine.travel(NOW, tick=False):
        raw = json.dumps(body).encode()
        acceptance.accept_delivery(
            integration, fmt="events_v2", body=raw, message=parsing.parse_event(json.loads(raw))
        )
        processing.process_deliveries(integration.pk)
    incident = Incident.objects.get()
    assert incident.detected_at == datetime(2024, 5, 1, 10, 0, tzinfo=ZoneInfo("UTC"))
    assert incident.clock_started_at == NOW
    assert incident.response_due_at == NOW + timedelta(minutes=15)


def test_the_policies_page_says_which_priorities_run_on_business_hours(client, make_user):
    client.force_login(make_user(Role.OPERATOR, username="reader"))
    body = client.get("/incidents/escalation-policies/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "P4: the response target is in business hours" in body


def test_an_alert_starting_now_keeps_counting_from_detection(integration):
    with time_machine.travel(NOW, tick=False):
        deliver_am(integration, am_body(am_alert(startsAt=NOW.isoformat())))
    incident = Incident.objects.get()
    assert incident.clock_started_at is None
    assert incident.response_due_at == NOW + timedelta(minutes=15)


def test_durations_over_a_day_read_as_days_and_old_dates_show_their_year():
    with time_machine.travel(NOW, tick=False):
        long_ago = datetime(2024, 5, 1, 19, 0, tzinfo=JST)
        assert timefmt.countdown(long_ago) == "overdue 945 d"
        assert timefmt.countdown(NOW + timedelta(minutes=5, seconds=3)) == "5:03"
        assert timefmt.countdown(NOW - timedelta(hours=3, minutes=2)) == "overdue 3:02:00"
        assert timefmt.duration(timedelta(days=1, hours=5)) == "1 d"
        assert timefmt.date_time(long_ago) == "2024-05-01 19:00"
        assert timefmt.date_time(NOW - timedelta(days=2)) == "12-01 10:00"
        assert timefmt.when(NOW + timedelta(minutes=29)) == "10:29"
        assert timefmt.when(long_ago) == "2024-05-01 19:00"
    with translation.override("ja"):
        assert timefmt.duration(945 * 86400) == "945日"


# ---------------------------------------------------------------------------- #7 one source


def test_header_and_panel_show_the_same_next_step_with_its_label(ladder, client):
    with time_machine.travel(NOW, tick=False):
        incident = services.open_incident(title="Checkout down", source="monitoring", priority="P1")
    # 50 % of the 15-minute target has passed: the next step is the 75 % warning at 10:11,
    # before the L2 step at 10:15 (the header used to show one, the panel the other).
    with time_machine.travel(NOW + timedelta(minutes=8), tick=False):
        escalation.sweep_deadlines()
        incident.refresh_from_db()
        body = render(client, ladder[1], incident)
    header = (
        by_testid(body, "header-next-escalation-label"),
        by_testid(body, "header-next-escalation-time"),
    )
    panel = (by_testid(body, "next-escalation-label"), by_testid(body, "next-escalation-time"))
    assert header == panel == ("warning 75 %", "10:11")
    assert incident.next_deadline_at == datetime(2026, 12, 3, 10, 11, 15, tzinfo=JST)
    # Once warned and breached, both name the level.
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        escalation.sweep_deadlines()
        incident.refresh_from_db()
        body = render(client, ladder[1], incident)
    header = (
        by_testid(body, "header-next-escalation-label"),
        by_testid(body, "header-next-escalation-time"),
    )
    panel = (by_testid(body, "next-escalation-label"), by_testid(body, "next-escalation-time"))
    assert header == panel == ("L3", "10:45")


def test_no_further_automatic_escalation_reads_the_same_in_header_and_panel(ladder, client):
    with time_machine.travel(NOW, tick=False):
        incident = services.open_incident(title="Search slow", source="monitoring", **P3)
        advance(incident, "start_response")
        escalation.escalate_incident(
            incident, actor=ladder[3], reason="technical_decision", comment="need devs", level=4
        )
        incident.refresh_from_db()
        body = render(client, ladder[1], incident)
    assert incident.escalation_level == 4
    assert incident.next_deadline_at is None
    assert by_testid(body, "header-next-escalation") == "No further automatic escalation."
    assert "No further automatic escalation." in body.split('data-testid="escalation-panel"')[1]
    assert by_testid(body, "next-escalation-label") is None
    assert by_testid(body, "header-next-escalation-time") is None


# ---------------------------------------------------------------------------- #13 P4 chain


def test_a_p4_filed_friday_evening_is_not_escalated_over_the_weekend(ladder):
    friday = datetime(2026, 12, 4, 17, 30, tzinfo=JST)
    with time_machine.travel(friday, tick=False):
        incident = services.open_incident(
            title="Typo on the help page", source="monitoring", priority="P4"
        )
    assert incident.response_due_at == datetime(2026, 12, 7, 16, 30, tzinfo=JST)  # 8 business h
    for moment in (
        datetime(2026, 12, 4, 23, 0, tzinfo=JST),
        datetime(2026, 12, 5, 12, 0, tzinfo=JST),
        datetime(2026, 12, 7, 8, 0, tzinfo=JST),
    ):
        with time_machine.travel(moment, tick=False):
            escalation.sweep_deadlines()
    incident.refresh_from_db()
    # Only the first 15 business minutes fit into Friday: L2 at 17:45, nothing more until Monday.
    assert incident.escalation_level == 2
    steps = dict(incident.escalation_steps.values_list("key", "due_at"))
    assert steps["c1:L2"] == datetime(2026, 12, 4, 17, 45, tzinfo=JST)
    assert "c1:L4" not in steps and "c1:L3" not in steps
    assert not any(key.startswith("response:warn") for key in steps)  # no warnings at night
    assert incident.next_deadline_at == datetime(2026, 12, 7, 9, 15, tzinfo=JST)  # L3 Monday
    # Developers (L4) are paged on Monday within business hours, not before.
    with time_machine.travel(datetime(2026, 12, 7, 10, 15, tzinfo=JST), tick=False):
        escalation.sweep_deadlines()
    incident.refresh_from_db()
    assert incident.escalation_level == 4
    assert incident.escalation_steps.get(key="c1:L4").due_at == datetime(
        2026, 12, 7, 10, 15, tzinfo=JST
    )


def test_p3_keeps_the_round_the_clock_ladder_of_section_8_4(ladder):
    night = datetime(2026, 12, 4, 23, 0, tzinfo=JST)
    with time_machine.travel(night, tick=False):
        incident = services.open_incident(title="Search slow", source="monitoring", **P3)
    assert incident.priority == "P3"
    with time_machine.travel(night + timedelta(minutes=16), tick=False):
        escalation.sweep_deadlines()
    incident.refresh_from_db()
    assert incident.escalation_level == 2


def test_lowering_a_p3_to_p4_moves_its_chain_onto_the_business_clock(ladder):
    friday = datetime(2026, 12, 4, 17, 30, tzinfo=JST)
    with time_machine.travel(friday, tick=False):
        incident = services.open_incident(title="Typo", source="monitoring", **P3)
        services.override_priority(incident, actor=ladder[2], priority="P4", reason="just a typo")
    incident.refresh_from_db()
    assert incident.escalation.snapshot["clock"] == "business"
    with time_machine.travel(datetime(2026, 12, 6, 12, 0, tzinfo=JST), tick=False):
        escalation.sweep_deadlines()
    incident.refresh_from_db()
    assert incident.escalation_level == 2  # L2 at 17:45 on Friday, L3 not before Monday 09:15
    assert incident.next_deadline_at == datetime(2026, 12, 7, 9, 15, tzinfo=JST)
