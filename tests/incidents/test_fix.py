"""Recovery versus fix (seed §8.2 復旧作業 vs 修正作業, issue 18 part 3): an incident may close on
recovery by a workaround, the root-cause fix then tracked as a follow-up until it is recorded;
the dashboard reports time to fix beside MTTR (docs/metrics.md § Recovery versus fix)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from incidents import fix, selectors, services
from incidents.choices import FixStatus
from incidents.models import FixFollowUp, Incident
from itsm.core import workflow
from itsm.core.audit import events_for
from itsm.core.roles import Role

from .conftest import advance

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
DETECTED = datetime(2025, 6, 3, 10, 0, tzinfo=JST)  # a Tuesday
SINCE, UNTIL = datetime(2025, 6, 2, tzinfo=JST), datetime(2025, 6, 9, tzinfo=JST)


@pytest.fixture
def verifying(open_incident, operator):
    """A P3 incident detected 10:00, recovered (verify) at 10:40 JST, assigned to the operator."""

    def make(priority="P3", title="Checkout returns 500"):
        with time_machine.travel(DETECTED, tick=False):
            incident = open_incident(priority=priority, title=title)
        with time_machine.travel(DETECTED + timedelta(minutes=40), tick=False):
            advance(incident, "start_response", "start_recovery", "verify")
        Incident.objects.filter(pk=incident.pk).update(assignee=operator)
        incident.refresh_from_db()
        return incident

    return make


def close(incident, actor, fix_status="", at=DETECTED + timedelta(hours=1)):
    with time_machine.travel(at, tick=False):
        return services.close_incident(
            incident, actor=actor, resolution_summary="Restarted the pool", fix_status=fix_status
        )


def time_to_fix(**kw):
    return selectors.fix_metrics(since=SINCE, until=UNTIL, **kw)


def test_closing_with_a_workaround_opens_a_follow_up_and_leaves_fixed_at_empty(verifying, operator):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    incident.refresh_from_db()
    assert incident.state == "closed" and incident.recovered_at is not None
    assert incident.fix_status == FixStatus.WORKAROUND and incident.fixed_at is None
    [follow_up] = FixFollowUp.objects.filter(incident=incident)
    assert follow_up.owner == operator and not follow_up.done
    assert follow_up.due_date == datetime(2025, 6, 10).date()  # 5 business days after Tue
    assert incident.number in follow_up.title
    assert incident.timeline.filter(data__fix_follow_up=follow_up.pk).exists()
    assert time_to_fix()["open_fix_follow_ups_now"] == 1
    assert time_to_fix()["time_to_fix_n"] == 0


def test_closing_as_fixed_sets_fixed_at_to_the_close(verifying, operator):
    incident = close(verifying(), operator, FixStatus.FIXED)
    incident.refresh_from_db()
    assert incident.fix_status == FixStatus.FIXED
    assert incident.fixed_at == incident.closed_at == DETECTED + timedelta(hours=1)
    assert not FixFollowUp.objects.exists()


def test_closing_without_saying_means_fixed_as_before(verifying, operator):
    incident = close(verifying(), operator)
    incident.refresh_from_db()
    assert incident.fix_status == FixStatus.FIXED and incident.fixed_at == incident.closed_at


def test_record_fix_sets_fixed_at_closes_the_follow_up_and_moves_time_to_fix(verifying, operator):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    assert time_to_fix()["time_to_fix_p50"] is None
    fixed = DETECTED + timedelta(days=2)  # Thursday 10:00: 2,880 minutes after detection
    with time_machine.travel(fixed + timedelta(hours=1), tick=False):
        fix.record_fix(
            incident, actor=operator, at=fixed, change_number="CHG-000045", comment="patched"
        )
    incident.refresh_from_db()
    assert (incident.fixed_at, incident.fix_change) == (fixed, "CHG-000045")
    assert incident.fix_status == FixStatus.FIXED
    follow_up = FixFollowUp.objects.get(incident=incident)
    assert follow_up.done_at == fixed and follow_up.change_number == "CHG-000045"
    figures = time_to_fix()
    assert (figures["time_to_fix_n"], figures["time_to_fix_p50"]) == (1, 2880.0)
    assert figures["open_fix_follow_ups_now"] == 0
    # MTTR still counts the recovery (40 min), not the fix.
    assert selectors.incident_metrics(since=SINCE, until=UNTIL)["overall"]["mttr_p50"] == 40.0
    assert [e.action for e in events_for(incident)][-1] == "record_fix"
    assert incident.timeline.filter(text__contains="CHG-000045").exists()


def test_time_to_fix_counts_incidents_fixed_in_the_period_whenever_detected(
    verifying, operator, ops_leader
):
    a = close(verifying(), operator, FixStatus.FIXED)  # fixed 60 min after detection
    b = close(verifying(title="Search slow"), operator, FixStatus.WORKAROUND)
    with time_machine.travel(UNTIL + timedelta(days=1), tick=False):
        fix.record_fix(b, actor=ops_leader, at=UNTIL + timedelta(hours=1))  # next period
    assert time_to_fix()["time_to_fix_n"] == 1 and time_to_fix()["time_to_fix_p50"] == 60.0
    later = selectors.fix_metrics(since=UNTIL, until=UNTIL + timedelta(days=7))
    assert later["time_to_fix_n"] == 1
    assert a.fixed_at < UNTIL


def test_bad_fix_times_and_a_second_fix_are_refused(verifying, operator):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    with time_machine.travel(DETECTED + timedelta(hours=2), tick=False):
        with pytest.raises(services.ValidationError) as future:
            fix.record_fix(incident, actor=operator, at=DETECTED + timedelta(hours=3))
        assert "at" in future.value.message_dict
        with pytest.raises(services.ValidationError) as early:
            fix.record_fix(incident, actor=operator, at=DETECTED - timedelta(minutes=1))
        assert "at" in early.value.message_dict
        fix.record_fix(incident, actor=operator)
        with pytest.raises(workflow.TransitionNotAllowed):
            fix.record_fix(incident, actor=operator)


def test_a_workaround_close_after_a_recorded_fix_is_refused_by_its_guard(verifying, operator):
    incident = verifying()
    with time_machine.travel(DETECTED + timedelta(minutes=50), tick=False):
        fix.record_fix(incident, actor=operator)
    with pytest.raises(workflow.GuardFailed) as refused:
        close(incident, operator, FixStatus.WORKAROUND)
    assert refused.value.extra["guard"] == "fix_statement_consistent"
    incident = close(Incident.objects.get(pk=incident.pk), operator)
    assert incident.fixed_at == DETECTED + timedelta(minutes=50)  # the recorded fix is kept


@pytest.mark.parametrize(
    "role, allowed",
    [
        (Role.OPERATOR, True),
        (Role.OPS_LEADER, True),
        (Role.DEVELOPER, True),
        (Role.EXECUTIVE, False),
        (Role.CAB_MEMBER, False),
    ],
)
def test_who_may_record_the_fix(verifying, operator, make_user, role, allowed):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    user = make_user(role, username=f"u-{role}")
    with time_machine.travel(DETECTED + timedelta(hours=2), tick=False):
        if allowed:
            fix.record_fix(incident, actor=user)
            assert Incident.objects.get(pk=incident.pk).fixed_at is not None
        else:
            with pytest.raises(PermissionDenied):
                fix.record_fix(incident, actor=user)


def test_the_api_records_the_fix_and_answers_400_with_field_messages(
    verifying, operator, make_user, api_as
):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    url = f"/api/v1/incidents/{incident.number}/fix/"
    api = api_as(operator)
    bad = api.post(url, {"at": "yesterday-ish", "change": "X" * 31}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"at", "change"}
    future = api.post(url, {"at": "2999-01-01T00:00:00+09:00"}, format="json")
    assert future.status_code == 400 and "at" in future.json()["errors"]
    executive = api_as(make_user(Role.EXECUTIVE, username="exec"))
    assert executive.post(url, {}, format="json").status_code == 403
    ok = api.post(url, {"at": "2025-06-05T10:00:00+09:00", "change": "CHG-000045"}, format="json")
    assert ok.status_code == 200, ok.json()
    body = ok.json()
    assert body["fix_status"] == "fixed" and body["fix_change"] == "CHG-000045"
    assert body["follow_ups"][0]["done_at"] is not None
    assert api.post(url, {}, format="json").status_code == 409
    detail = api.get(f"/api/v1/incidents/{incident.number}/").json()
    assert detail["fixed_at"] is not None and detail["fix_status"] == "fixed"


def test_the_close_transition_offers_the_fix_choice_through_the_api(verifying, operator, api_as):
    incident = verifying()
    url = f"/api/v1/incidents/{incident.number}/transitions/"
    api = api_as(operator)
    wrong = api.post(
        url,
        {"transition": "close", "resolution_summary": "Restarted", "fix_status": "maybe"},
        format="json",
    )
    assert wrong.status_code == 400
    response = api.post(
        url,
        {"transition": "close", "resolution_summary": "Restarted", "fix_status": "workaround"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["fixed_at"] is None
    assert FixFollowUp.objects.open().filter(incident=incident).exists()


def test_the_incident_page_shows_the_follow_up_and_records_the_fix(client, verifying, operator):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    client.force_login(operator)
    page = client.get(incident.get_absolute_url())
    html = page.content.decode()
    assert 'data-testid="fix-panel"' in html and 'data-testid="fix-form"' in html
    assert 'name="fix_status"' not in html  # closed: no close form any more
    response = client.post(
        reverse("incidents:record_fix", args=[incident.number]),
        {"at": "2025-06-05T10:00", "change": "CHG-000045"},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.fixed_at == datetime(2025, 6, 5, 10, 0, tzinfo=JST)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="fix-form"' not in html and "CHG-000045" in html


def test_the_verifying_page_offers_the_fix_choice_on_close(client, verifying, ops_leader):
    incident = verifying()
    client.force_login(ops_leader)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'name="fix_status"' in html and 'value="workaround"' in html


def test_reopening_clears_the_fix(verifying, operator):
    incident = close(verifying(), operator, FixStatus.FIXED)
    with time_machine.travel(DETECTED + timedelta(hours=2), tick=False):
        services.transition(incident, "reopen", actor=operator, comment="back again")
    incident.refresh_from_db()
    assert incident.fixed_at is None and incident.fix_status == ""


def test_a_closed_on_recovery_incident_waits_in_my_work_until_fixed(client, verifying, operator):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)

    def fix_items():
        return [i for i in selectors.my_open_items(operator) if i["url"].endswith("#fix")]

    [item] = fix_items()
    assert item["number"] == incident.number
    client.force_login(operator)
    assert incident.get_absolute_url() + "#fix" in client.get("/").content.decode()
    with time_machine.travel(DETECTED + timedelta(hours=2), tick=False):
        fix.record_fix(incident, actor=operator)
    assert not fix_items()


def test_the_dashboard_and_the_metrics_api_show_mttr_and_time_to_fix(
    client, verifying, operator, ops_manager, api_as
):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    period = {"days": "custom", "since": "2025-06-02", "until": "2025-06-08"}
    api = api_as(ops_manager)

    def figures():
        data = api.get("/api/v1/metrics/incidents/", period).json()["data"]
        return data["overall"]["mttr_p50"], data["fix"]["time_to_fix_p50"]

    assert figures() == (40.0, None)
    with time_machine.travel(DETECTED + timedelta(days=3), tick=False):
        fix.record_fix(incident, actor=operator, at=DETECTED + timedelta(days=2))
    assert figures() == (40.0, 2880.0)
    client.force_login(ops_manager)
    html = client.get("/dashboard/", period).content.decode()
    assert 'data-tile="time-to-fix"' in html and 'data-value="2880.0"' in html


def test_the_admin_shows_the_fix_read_only(client, verifying, operator, admin_user):
    incident = close(verifying(), operator, FixStatus.WORKAROUND)
    client.force_login(admin_user)
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    follow_up = FixFollowUp.objects.get(incident=incident)
    assert 'name="fixed_at' not in html and follow_up.title in html
