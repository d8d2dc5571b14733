"""The generic transitions API, as every state machine exposes it (DESIGN.md § REST API)."""

import pytest

from itsm.core.models import AuditEvent
from itsm.core.roles import Role
from tests.testapp.models import Ticket

pytestmark = pytest.mark.django_db

URL = "/api/test/tickets/{}/transitions/"


@pytest.fixture
def ticket():
    return Ticket.objects.create(title="Rotate TLS certificate")


def test_lists_transitions_with_blocking_guard(api_as, operator, ticket):
    response = api_as(operator).get(URL.format(ticket.number))
    assert response.status_code == 200
    [submit] = response.json()
    assert submit["name"] == "submit"
    assert submit["available"] is False
    assert submit["blocked_by"][0]["guard"] == "has_rollback_plan"
    assert submit["fields"] == ["rollback_plan", "risk"]


def test_failed_guard_is_400_naming_the_guard(api_as, operator, ticket):
    response = api_as(operator).post(URL.format(ticket.number), {"transition": "submit"})
    assert response.status_code == 400
    assert response.json()["code"] == "guard_failed"
    assert response.json()["guard"] == "has_rollback_plan"
    ticket.refresh_from_db()
    assert ticket.state == "draft"


def test_transition_with_fields_applies_and_is_audited(api_as, operator, ticket):
    response = api_as(operator).post(
        URL.format(ticket.number),
        {"transition": "submit", "comment": "ready", "rollback_plan": "restore v1", "risk": 2},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "submitted"
    ticket.refresh_from_db()
    assert ticket.rollback_plan == "restore v1"
    event = AuditEvent.objects.for_object(ticket).get()
    assert (event.actor, event.action, event.from_state, event.to_state, event.comment) == (
        operator,
        "submit",
        "draft",
        "submitted",
        "ready",
    )


def test_invalid_field_is_400_with_field_message(api_as, operator, ticket):
    response = api_as(operator).post(
        URL.format(ticket.number),
        {"transition": "submit", "rollback_plan": "x", "risk": "high"},
    )
    assert response.status_code == 400
    assert "risk" in response.json()["errors"]


def test_illegal_transition_is_409(api_as, operator, ticket):
    response = api_as(operator).post(URL.format(ticket.number), {"transition": "approve"})
    assert response.status_code == 409
    assert response.json()["code"] == "transition_not_allowed"


def test_unknown_transition_is_409_not_500(api_as, operator, ticket):
    response = api_as(operator).post(URL.format(ticket.number), {"transition": "__class__"})
    assert response.status_code == 409


def test_forbidden_transition_is_403(api_as, operator, make_user, ticket):
    ticket.rollback_plan = "restore"
    ticket.submit()
    ticket.save()
    response = api_as(operator).post(URL.format(ticket.number), {"transition": "approve"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    manager = make_user(Role.OPS_MANAGER, username="mgr")
    response = api_as(manager).post(URL.format(ticket.number), {"transition": "approve"})
    assert response.status_code == 200
    assert response.json()["state"] == "approved"


def test_comment_required_transition_refuses_empty_reason(api_as, operator, ticket):
    ticket.rollback_plan = "restore"
    ticket.submit()
    ticket.save()
    client = api_as(operator)
    response = client.post(URL.format(ticket.number), {"transition": "send_back"})
    assert response.status_code == 400
    assert "comment" in response.json()["errors"]
    response = client.post(
        URL.format(ticket.number), {"transition": "send_back", "comment": "wrong window"}
    )
    assert response.status_code == 200


def test_concurrent_transition_is_409(api_as, operator, ticket):
    stale = Ticket.objects.get(pk=ticket.pk)
    client = api_as(operator)
    ok = client.post(URL.format(ticket.number), {"transition": "submit", "rollback_plan": "r"})
    assert ok.status_code == 200
    # A second writer still holding the old state loses with a 409, not a lost update.
    from itsm.core import workflow

    with pytest.raises(workflow.ConcurrentUpdate):
        workflow.apply_transition(stale, "submit", actor=operator, data={"rollback_plan": "other"})
    ticket.refresh_from_db()
    assert ticket.rollback_plan == "r"
    assert AuditEvent.objects.for_object(ticket).count() == 1


def test_direct_state_write_is_rejected(api_as, operator, ticket):
    response = api_as(operator).patch(f"/api/test/tickets/{ticket.number}/", {"state": "approved"})
    assert response.status_code == 400
    assert "state" in response.json()["errors"]
    ticket.refresh_from_db()
    assert ticket.state == "draft"


def test_idempotency_key_replays_first_response(api_as, operator):
    client = api_as(operator)
    headers = {"HTTP_IDEMPOTENCY_KEY": "abc-123"}
    first = client.post("/api/test/tickets/", {"title": "Patch kernel"}, **headers)
    second = client.post("/api/test/tickets/", {"title": "Patch kernel"}, **headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
    reused = client.post("/api/test/tickets/", {"title": "Other"}, **headers)
    assert reused.status_code == 422
    assert Ticket.objects.count() == 1


def test_unauthenticated_api_is_401_json(api_client, ticket):
    response = api_client.get(f"/api/test/tickets/{ticket.number}/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_fields_not_sent_keep_their_current_values(api_as, operator):
    ticket = Ticket.objects.create(title="Upgrade DB", rollback_plan="restore snapshot", risk=3)
    response = api_as(operator).post(URL.format(ticket.number), {"transition": "submit"})
    assert response.status_code == 200, response.json()
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rollback_plan, ticket.risk) == ("submitted", "restore snapshot", 3)


def test_field_sent_empty_clears_it_and_the_guard_refuses(api_as, operator):
    ticket = Ticket.objects.create(title="Upgrade DB", rollback_plan="restore snapshot")
    response = api_as(operator).post(
        URL.format(ticket.number), {"transition": "submit", "rollback_plan": ""}
    )
    assert response.status_code == 400
    assert response.json()["guard"] == "has_rollback_plan"
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rollback_plan) == ("draft", "restore snapshot")


def test_transition_body_that_is_not_an_object_is_400(api_as, operator, ticket):
    response = api_as(operator).post(URL.format(ticket.number), ["submit"], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_partial_fields_keep_current_values(api_as, operator, ticket):
    ticket.rollback_plan = "restore snapshot"
    ticket.save()
    response = api_as(operator).post(URL.format(ticket.number), {"transition": "submit", "risk": 3})
    assert response.status_code == 200, response.json()
    ticket.refresh_from_db()
    assert (ticket.rollback_plan, ticket.risk) == ("restore snapshot", 3)


def test_service_call_without_data_keeps_fields(operator, ticket):
    from itsm.core import workflow

    ticket.rollback_plan = "restore snapshot"
    ticket.save()
    workflow.apply_transition(ticket, "submit", actor=operator)
    ticket.refresh_from_db()
    assert ticket.state == "submitted"
    assert ticket.rollback_plan == "restore snapshot"
