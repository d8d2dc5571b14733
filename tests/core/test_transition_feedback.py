"""What a person sees after and before a transition on a record page (issue 14, part 9): the
message names the record, its new state and (incidents) the next escalation; the panel lists the
transitions they cannot take now, with the reason in words."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents import services
from itsm.core import workflow
from tests.incidents.conftest import advance

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 16, 0, tzinfo=JST)


def _post(client, incident, name, **data):
    url = reverse("core:transition", args=["incidents", "incident", incident.pk])
    response = client.post(url, {"transition": name, **data})
    assert response.status_code == 302
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def p1(db):
    with time_machine.travel(NOW, tick=False):
        incident = services.open_incident(title="Shop down", source="monitoring", priority="P1")
    return incident


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "{n} is now Recovering. Next escalation: L{level} at {time}."),
        ("ja", "{n} は「復旧作業」になりました。次のエスカレーション: L{level}（{time}）。"),
    ],
)
def test_message_names_record_new_state_and_next_escalation(
    client, operator, p1, language, expected
):
    operator.language = language
    operator.save()
    client.force_login(operator)
    with time_machine.travel(NOW.replace(minute=5), tick=False):
        _post(client, p1, "start_response")
        p1.refresh_from_db()
        messages = _post(client, p1, "start_recovery")
        from incidents.escalation import upcoming

        due = upcoming(p1)
    assert due is not None and due.level == 2
    assert due.due_at.astimezone(JST).date() == NOW.date()
    assert due.due_at.astimezone(JST).strftime("%H:%M") == "16:20"
    assert messages[-1] == expected.format(n=p1.number, level=2, time="16:20")


def test_message_without_escalation_says_the_state_only(client, ops_leader, p1):
    ops_leader.language = "en"
    ops_leader.save()
    advance(p1, "start_response", "start_recovery", "verify")
    client.force_login(ops_leader)
    messages = _post(client, p1, "close", resolution_summary="restarted the pool")
    assert messages == [f"{p1.number} is now Closed."]


def test_operator_on_p1_at_verifying_sees_close_disabled_with_reason(client, operator, p1):
    operator.language = "en"
    operator.save()
    advance(p1, "start_response", "start_recovery", "verify")
    client.force_login(operator)
    body = client.get(p1.get_absolute_url()).content.decode()
    panel = body.split('data-testid="unavailable-transitions"', 1)[1].split("</section>", 1)[0]
    row = panel.split('data-unavailable="close"', 1)[1].split("</div>", 1)[0]
    assert "disabled" in row
    assert "Close — needs an ops leader or above: P1/P2 incidents" in row
    # the monitoring-only transitions are never offered, not even disabled
    assert 'data-unavailable="alerts_refire"' not in body
    assert 'data-transition="reject_fix"' in body  # still takeable by the operator
    # and in Japanese
    operator.language = "ja"
    operator.save()
    body = client.get(p1.get_absolute_url()).content.decode()
    row = body.split('data-unavailable="close"', 1)[1].split("</div>", 1)[0]
    assert " — 必要な権限: 運用リーダー以上（P1/P2 インシデント）" in row


def test_ops_leader_sees_no_unavailable_close(client, ops_leader, p1):
    advance(p1, "start_response", "start_recovery", "verify")
    options = {o.name: o for o in workflow.options_for(p1, ops_leader, include_forbidden=True)}
    assert options["close"].permitted
    assert "auto_recover" not in options and "alerts_refire" not in options


def test_api_lists_unavailable_transitions_only_when_asked(api_as, operator, p1):
    advance(p1, "start_response", "start_recovery", "verify")
    client = api_as(operator)
    url = f"/api/v1/incidents/{p1.number}/transitions/"
    default = client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    assert "close" not in {o["name"] for o in default}
    assert all(o["permitted"] for o in default)
    full = client.get(url, {"include": "unavailable"}, HTTP_ACCEPT_LANGUAGE="en").json()
    close = next(o for o in full if o["name"] == "close")
    assert close["permitted"] is False and close["available"] is False
    assert "ops leader or above: P1/P2 incidents" in close["reason"]
    bad = client.get(url, {"include": "everything"})
    assert bad.status_code == 400


def test_generic_panel_lists_a_role_restricted_transition_with_who_may_take_it(rf, operator):
    """Any state machine: a transition needing a higher role is a disabled button with the
    role in words; one blocked by a guard keeps its guard message."""
    from django.template import Context, Template
    from django.utils import translation

    from tests.testapp.models import Ticket

    ticket = Ticket.objects.create(title="Rotate keys", rollback_plan="restore previous keys")
    workflow.apply_transition(ticket, "submit", actor=None, system_label="test")
    request = rf.get("/")
    request.user = operator
    with translation.override("en"):
        html = Template("{% load portal %}{% transitions_panel ticket %}").render(
            Context({"ticket": ticket, "request": request})
        )
    row = html.split('data-unavailable="approve"', 1)[1].split("</div>", 1)[0]
    assert "disabled" in row and "Approve — needs Ops manager (L3) or above" in row
    assert 'data-transition="send_back"' in html  # the operator may send it back
