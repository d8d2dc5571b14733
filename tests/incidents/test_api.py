"""/api/v1/incidents/ and /api/v1/postmortems/: status codes, bad input, permissions, 409s."""

import pytest

from incidents.models import Incident, Postmortem, Runbook
from itsm.core.models import ApiToken, AuditEvent
from itsm.core.roles import Role
from tests.factories import ServiceFactory

from .conftest import advance

pytestmark = pytest.mark.django_db
URL = "/api/v1/incidents/"


def test_create_triaged_incident_returns_number_priority_due(api_as, operator):
    ServiceFactory(slug="web-shop")
    response = api_as(operator).post(
        URL,
        {
            "title": "Checkout down",
            "source": "user_report",
            "service": "web-shop",
            "impact_scope": "all_users",
            "business_impact": "revenue_loss",
            "urgency": "immediate",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"].startswith("INC-")
    assert (body["priority"], body["state"], body["track"]) == ("P1", "triaged", "urgent")
    assert body["response_due_at"]
    assert body["service"] == "web-shop"


def test_create_untriaged(api_as, operator):
    response = api_as(operator).post(URL, {"title": "Odd banner"})
    assert response.status_code == 201
    assert (response.json()["state"], response.json()["priority"]) == ("detected", "")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": "x", "source": "pager"}, "source"),
        ({"title": "x", "impact_scope": "everyone"}, "impact_scope"),
        ({"title": "x", "service": "nope"}, "service"),
        ({"title": "x", "detected_at": "yesterday"}, "detected_at"),
        ({"title": "x", "state": "closed"}, "state"),
        ({"title": "x", "priority": "P1"}, "priority"),  # operator, not monitoring
    ],
)
def test_create_bad_input_is_400_with_field(api_as, operator, payload, field):
    response = api_as(operator).post(URL, payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_unknown_choice_error_lists_valid_values(api_as, operator):
    response = api_as(operator).post(URL, {"title": "x", "urgency": "now"})
    message = response.json()["errors"]["urgency"][0]
    assert "immediate" in message and "planned" in message


def test_non_object_body_is_400(api_as, operator):
    response = api_as(operator).post(URL, [1, 2], format="json")
    assert response.status_code == 400


def test_monitoring_may_set_priority(api_as, operator):
    response = api_as(operator).post(
        URL, {"title": "Disk full", "source": "monitoring", "priority": "P2"}
    )
    assert response.status_code == 201
    assert response.json()["priority"] == "P2"


def test_idempotency_key_on_create(api_as, operator):
    client = api_as(operator)
    first = client.post(URL, {"title": "Dup"}, HTTP_IDEMPOTENCY_KEY="k1")
    second = client.post(URL, {"title": "Dup"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.json()["number"] == second.json()["number"]
    assert Incident.objects.count() == 1


def test_executive_reads_but_cannot_create(api_as, make_user, open_incident):
    executive = make_user(Role.EXECUTIVE, username="exec")
    incident = open_incident()
    client = api_as(executive)
    assert client.get(f"{URL}{incident.number}/").status_code == 200
    assert client.post(URL, {"title": "x"}).status_code == 403


def test_read_scoped_token_cannot_write(api_as, operator):
    response = api_as(operator, scope=ApiToken.Scope.READ).post(URL, {"title": "x"})
    assert response.status_code == 403


def test_list_filters_search_and_cursor_pagination(api_as, operator, open_incident):
    for n in range(3):
        open_incident(title=f"DB slow {n}", priority="P3", source="monitoring")
    open_incident(title="Login broken", priority="P1", source="monitoring")
    open_incident(title="Typo")
    client = api_as(operator)
    body = client.get(URL, {"priority": "P1"}).json()
    assert [r["title"] for r in body["results"]] == ["Login broken"]
    assert len(client.get(URL, {"state": "detected"}).json()["results"]) == 1
    assert len(client.get(URL, {"search": "DB slow"}).json()["results"]) == 3
    assert len(client.get(URL, {"sla": "pending"}).json()["results"]) == 1
    page = client.get(URL, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 2
    assert client.get(URL, {"priority": "P7"}).status_code == 400


def test_list_query_count_is_constant(
    api_as, operator, open_incident, django_assert_max_num_queries
):
    client = api_as(operator)
    for n in range(30):
        open_incident(title=f"n{n}", priority="P2", source="monitoring")
    with django_assert_max_num_queries(8):
        assert client.get(URL).status_code == 200


def test_partial_update_and_refused_fields(api_as, operator, open_incident):
    incident = open_incident()
    client = api_as(operator)
    response = client.patch(f"{URL}{incident.number}/", {"title": "New", "assignee": "op"})
    assert response.status_code == 200, response.json()
    assert (response.json()["title"], response.json()["assignee"]) == ("New", "op")
    for field, value in [("state", "closed"), ("priority", "P1"), ("assignee", "ghost")]:
        response = client.patch(f"{URL}{incident.number}/", {field: value})
        assert response.status_code == 400
        assert field in response.json()["errors"]


def test_transitions_endpoint_walks_and_refuses(api_as, operator, open_incident):
    incident = open_incident()
    client = api_as(operator)
    t_url = f"{URL}{incident.number}/transitions/"
    names = [o["name"] for o in client.get(t_url).json()]
    assert names == ["triage"]
    bad = client.post(t_url, {"transition": "triage", "impact_scope": "all"})
    assert bad.status_code == 400
    assert client.post(t_url, {"transition": "close"}).status_code == 409
    ok = client.post(
        t_url,
        {
            "transition": "triage",
            "impact_scope": "some_users",
            "business_impact": "revenue_loss",
            "urgency": "immediate",
        },
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["priority"] == "P2"
    assert client.post(t_url, {"transition": "start_response"}).json()["state"] == "investigating"


def test_p1_close_by_operator_is_403_and_by_leader_creates_postmortem(
    api_as, operator, ops_leader, incident_in
):
    incident = incident_in("verifying", priority="P1")
    t_url = f"{URL}{incident.number}/transitions/"
    payload = {"transition": "close", "resolution_summary": "Failed over"}
    assert api_as(operator).post(t_url, payload).status_code == 403
    no_summary = api_as(ops_leader).post(t_url, {"transition": "close"})
    assert no_summary.status_code == 400
    assert no_summary.json()["guard"] == "has_resolution_summary"
    response = api_as(ops_leader).post(t_url, payload)
    assert response.status_code == 200
    assert response.json()["postmortem"].startswith("PM-")


def test_timeline_get_and_post(api_as, operator, open_incident):
    incident = open_incident()
    client = api_as(operator)
    t_url = f"{URL}{incident.number}/timeline/"
    posted = client.post(t_url, {"text": "Investigating the DB"})
    assert posted.status_code == 201
    assert posted.json()["kind"] == "status_update"
    assert client.post(t_url, {"text": ""}).status_code == 400
    assert client.post(t_url, {"text": "x", "kind": "transition"}).status_code == 400
    texts = [e["text"] for e in client.get(t_url).json()]
    assert "Investigating the DB" in texts


def test_priority_override_endpoint(api_as, operator, ops_leader, open_incident):
    incident = open_incident(priority="P4", source="monitoring")
    p_url = f"{URL}{incident.number}/priority/"
    assert api_as(operator).post(p_url, {"priority": "P1", "reason": "VIP"}).status_code == 403
    assert api_as(ops_leader).post(p_url, {"priority": "P1"}).status_code == 400
    assert api_as(ops_leader).post(p_url, {"priority": "P0", "reason": "x"}).status_code == 400
    ok = api_as(ops_leader).post(p_url, {"priority": "P1", "reason": "VIP"})
    assert ok.status_code == 200
    assert ok.json()["priority"] == "P1"
    assert AuditEvent.objects.for_object(incident).filter(action="override_priority").exists()


def test_attach_runbook(api_as, operator, open_incident):
    incident = open_incident()
    client = api_as(operator)
    url = f"{URL}{incident.number}/runbooks/"
    assert client.post(url, {"runbook": Runbook.objects.get().pk}).status_code == 200
    assert client.post(url, {"runbook": 99999}).status_code == 400
    assert incident.runbooks.count() == 1


def test_unknown_incident_is_404_json(api_as, operator):
    response = api_as(operator).get(f"{URL}INC-999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# ----------------------------------------------------------------- postmortems
PM = "/api/v1/postmortems/"


def test_postmortem_request_edit_whys_action_items_and_publish(
    api_as, operator, ops_leader, incident_in
):
    incident = incident_in("closed", priority="P3")
    client = api_as(operator)
    created = client.post(PM, {"incident": incident.number})
    assert created.status_code == 201, created.json()
    number = created.json()["number"]
    assert created.json()["kind"] == "review"
    assert client.post(PM, {"incident": incident.number}).status_code == 409
    assert client.post(PM, {"incident": "INC-000000"}).status_code == 400
    patched = client.patch(f"{PM}{number}/", {"root_cause": "No alert on pool", "state": "x"})
    assert patched.status_code == 400
    patched = client.patch(f"{PM}{number}/", {"root_cause": "No alert on pool"})
    assert patched.status_code == 200
    whys = client.put(
        f"{PM}{number}/whys/",
        {
            "whys": [
                {"why": "Why down?", "because": "Pool empty"},
                {"why": "Why?", "because": "No alert"},
            ]
        },
    )
    assert whys.status_code == 200
    assert [w["order"] for w in whys.json()["whys"]] == [1, 2]
    assert client.put(f"{PM}{number}/whys/", {"whys": "nope"}).status_code == 400
    item = client.post(
        f"{PM}{number}/action-items/",
        {"title": "Add pool alert", "owner": "op", "due_date": "2026-04-01"},
    )
    assert item.status_code == 201, item.json()
    bad = client.post(f"{PM}{number}/action-items/", {"title": "x", "due_date": "soon"})
    assert bad.status_code == 400
    done = client.patch(f"{PM}{number}/action-items/{item.json()['id']}/", {"done": True})
    assert done.status_code == 200 and done.json()["done"] is True
    t_url = f"{PM}{number}/transitions/"
    assert client.post(t_url, {"transition": "submit_for_review"}).status_code == 200
    assert client.post(t_url, {"transition": "publish"}).status_code == 403
    assert api_as(ops_leader).post(t_url, {"transition": "publish"}).status_code == 200
    assert Postmortem.objects.get(number=number).state == "published"


def test_overdue_postmortems_are_listable(api_as, operator, ops_leader, incident_in):
    import datetime

    incident = incident_in("verifying", priority="P1")
    advance(incident, "close", data={"resolution_summary": "x"})
    from incidents import services

    pm = services.request_postmortem(incident, actor=ops_leader)
    Postmortem.objects.filter(pk=pm.pk).update(due_at=pm.due_at - datetime.timedelta(days=30))
    body = api_as(operator).get(PM, {"overdue": "true"}).json()
    assert [r["number"] for r in body["results"]] == [pm.number]


API_LIST_QUERIES = 5


@pytest.mark.parametrize("count", [1, 30])
def test_api_list_query_count_does_not_grow_with_rows(
    api_as, ops_leader, count, django_assert_max_num_queries
):
    from .test_views import populate

    populate(count, ops_leader)
    client = api_as(ops_leader)
    for params in ({}, {"priority": ["P1", "P2"], "open": "true"}):
        with django_assert_max_num_queries(API_LIST_QUERIES):
            response = client.get(URL, params)
        assert response.status_code == 200
    assert len(client.get(URL).json()["results"]) == count
