"""Manual escalation through the API and the HTML pages; the policies page; permissions."""

import pytest
import time_machine

from incidents import services
from incidents.models import EscalationStep
from itsm.core.roles import Role

from .test_escalation import MAJOR, P3, T0, at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_minute_in():
    with time_machine.travel(at(1), tick=False):
        yield


def _file(**triage):
    with time_machine.travel(T0, tick=False):
        return services.open_incident(title="Checkout down", source="monitoring", **triage)


def test_api_escalates_one_level_and_shows_the_steps(api_as, operator):
    incident = _file(**P3)
    api = api_as(operator)
    url = f"/api/v1/incidents/{incident.number}/escalate/"
    response = api.post(url, {"reason": "impact_expanding", "comment": "two regions now"})
    assert response.status_code == 200, response.content
    assert response.json()["escalation_level"] == 2
    state = api.get(f"/api/v1/incidents/{incident.number}/escalation/").json()
    assert [s["key"] for s in state["steps"]] == ["report:L1", "c1:L2"]
    assert state["steps"][-1]["by"] == operator.username
    assert state["policy"].startswith("通常対応")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"comment": "x"}, "reason"),
        ({"reason": "nope", "comment": "x"}, "reason"),
        ({"reason": "technical_decision"}, "comment"),
        ({"reason": "technical_decision", "comment": ""}, "comment"),
        ({"reason": "technical_decision", "comment": "x", "level": "high"}, "level"),
        ({"reason": "technical_decision", "comment": "x", "level": 9}, "level"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_field(api_as, ops_manager, body, field):
    incident = _file(**P3)
    response = api_as(ops_manager).post(f"/api/v1/incidents/{incident.number}/escalate/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_api_refusals(api_as, operator, make_user):
    incident = _file(**P3)
    url = f"/api/v1/incidents/{incident.number}/escalate/"
    body = {"reason": "business_decision", "comment": "x"}
    assert api_as(operator).post(url, {**body, "level": 4}).status_code == 403
    assert api_as(make_user(Role.EXECUTIVE)).post(url, body).status_code == 403
    assert api_as(operator).post("/api/v1/incidents/INC-999999/escalate/", body).status_code == 404
    with time_machine.travel(T0, tick=False):
        untriaged = services.open_incident(title="x", source="user_report")
    response = api_as(operator).post(f"/api/v1/incidents/{untriaged.number}/escalate/", body)
    assert response.status_code == 409
    assert not EscalationStep.objects.filter(kind="manual").exists()


def test_incident_page_shows_level_next_escalation_and_the_form(client, operator):
    incident = _file(**MAJOR)
    client.force_login(operator)
    body = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="escalation-level"' in body
    assert 'data-testid="next-escalation"' in body
    assert 'data-testid="escalate-form"' in body
    assert 'name="level"' not in body  # operators go one level up only
    listing = client.get("/incidents/").content.decode()
    assert 'data-testid="escalation-badge"' in listing


def test_escalate_form_escalates_and_reports_bad_input(client, ops_manager):
    incident = _file(**P3)
    client.force_login(ops_manager)
    url = f"/incidents/{incident.number}/escalate/"
    response = client.post(url, {"reason": "", "comment": "x"}, follow=True)
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode() or "Choose one of" in (
        response.content.decode()
    )
    client.post(url, {"reason": "business_decision", "comment": "refunds?", "level": "3"})
    incident.refresh_from_db()
    assert incident.escalation_level == 3


def test_escalate_form_needs_change_permission(client, make_user):
    incident = _file(**P3)
    client.force_login(make_user(Role.EXECUTIVE))
    response = client.post(
        f"/incidents/{incident.number}/escalate/", {"reason": "not_recovered", "comment": "x"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.EXECUTIVE, Role.CAB_MEMBER])
def test_policies_page_is_readable_by_every_role(client, make_user, role):
    client.force_login(make_user(role))
    body = client.get("/incidents/escalation-policies/").content.decode()
    assert body.count('data-testid="policy"') == 2
    assert "L5" in body


def test_policies_page_needs_login(client):
    assert client.get("/incidents/escalation-policies/").status_code == 302
