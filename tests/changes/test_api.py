"""The change API: status codes, filters, bad input, votes, work log and the iCalendar feed."""

import pytest
import time_machine

from changes import ical
from changes.models import ChangeRequest
from itsm.core.models import ApiToken
from itsm.core.roles import Role
from tests.factories import ServiceFactory

from .factories import ChangeRequestFactory, FreezeWindowFactory, change_class, jst

pytestmark = pytest.mark.django_db

URL = "/api/v1/changes/"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(jst(2026, 6, 1, 10), tick=False):
        yield


def rfc(**overrides):
    body = {
        "title": "Upgrade PostgreSQL to 17",
        "category": "infrastructure_configuration",
        "change_class": "normal",
        "services": [],
        "affected_users": "All users, 10 min read-only",
        "risk_level": "high",
        "implementation_plan": "pg_upgrade --link",
        "rollback_plan": "Fail back to the old cluster",
        "planned_start": "2026-06-10T10:00:00+09:00",
        "planned_end": "2026-06-10T12:00:00+09:00",
    }
    return body | overrides


def test_create_is_a_draft_of_the_caller(api_as, operator):
    ServiceFactory(slug="db")
    response = api_as(operator).post(URL, rfc(services=["db"]), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["state"], body["requester"], body["services"]) == ("draft", "op", ["db"])
    assert body["number"].startswith("CHG-")
    assert body["earliest_start"].startswith("2026-06-04T10:00")


def test_create_with_idempotency_key_is_not_duplicated(api_as, operator):
    client = api_as(operator)
    first = client.post(URL, rfc(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(URL, rfc(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["number"] == again.json()["number"]
    assert ChangeRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"change_class": "nope"}, "change_class"),
        ({"category": "gardening"}, "category"),
        ({"planned_end": "2026-06-10T09:00:00+09:00"}, "planned_end"),
        ({"planned_start": "tomorrow"}, "planned_start"),
        ({"state": "approved"}, "state"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"services": ["missing"]}, "services"),
        ({"implementer": "ghost"}, "implementer"),
        ({"title": ""}, "title"),
        ({"template": 999}, "template"),
    ],
)
def test_bad_input_is_400_with_field_errors(api_as, operator, overrides, field):
    response = api_as(operator).post(URL, rfc(**overrides), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_non_object_body_is_400(api_as, operator):
    response = api_as(operator).post(URL, ["x"], format="json")
    assert response.status_code == 400


def test_update_only_in_draft(api_as, operator):
    change = ChangeRequestFactory(requester=operator)
    client = api_as(operator)
    response = client.patch(f"{URL}{change.number}/", {"title": "Renamed"}, format="json")
    assert response.status_code == 200
    client.post(f"{URL}{change.number}/transitions/", {"transition": "submit"}, format="json")
    response = client.patch(f"{URL}{change.number}/", {"title": "Again"}, format="json")
    assert response.status_code == 409


def test_filters_search_and_ordering(api_as, operator):
    web = ServiceFactory(slug="web")
    a = ChangeRequestFactory(title="Patch nginx", change_class=change_class("major"))
    a.services.add(web)
    b = ChangeRequestFactory(title="Rotate keys", planned_start=jst(2026, 6, 20, 10),
                             planned_end=jst(2026, 6, 20, 11))  # fmt: skip
    client = api_as(operator)

    def numbers(query):
        response = client.get(URL + query)
        assert response.status_code == 200, response.json()
        return [r["number"] for r in response.json()["results"]]

    assert numbers("?change_class=major") == [a.number]
    assert numbers("?service=web") == [a.number]
    assert numbers("?search=rotate") == [b.number]
    assert numbers("?ordering=-planned_start") == [b.number, a.number]
    assert numbers("?state=draft&ordering=planned_start") == [a.number, b.number]
    assert numbers("?planned_after=2026-06-15T00:00:00%2B09:00") == [b.number]
    assert client.get(URL + "?state=bogus").status_code == 400
    assert client.get(URL + "?planned_after=soon").status_code == 400


def test_transitions_status_codes(api_as, operator, ops_manager):
    change = ChangeRequestFactory(requester=operator)
    url = f"{URL}{change.number}/transitions/"
    assert api_as(ops_manager).post(url, {"transition": "approve"}).status_code == 409
    response = api_as(operator).post(url, {"transition": "submit"})
    assert response.status_code == 200
    assert response.json()["state"] == "in_review"
    assert api_as(operator).post(url, {"transition": "approve"}).status_code == 403
    assert api_as(ops_manager).post(url, {"transition": "cab_approve"}).status_code == 409
    response = api_as(ops_manager).post(url, {"transition": "reject"})
    assert response.status_code == 400  # a rejection needs a reason
    response = api_as(ops_manager).post(url, {"transition": "approve", "comment": "ok"})
    assert response.json()["approvals"][0]["approver"] == "manager"


def test_lead_time_refusal_is_400_naming_the_guard(api_as, operator):
    change = ChangeRequestFactory(
        requester=operator, planned_start=jst(2026, 6, 2, 10), planned_end=jst(2026, 6, 2, 11)
    )
    response = api_as(operator).post(f"{URL}{change.number}/transitions/", {"transition": "submit"})
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["guard"]) == ("guard_failed", "respects_lead_time")
    assert "緊急変更" in body["detail"]  # the default language is Japanese


def test_hidden_system_transitions_are_refused_to_people(api_as, admin_user, make_user):
    change = ChangeRequestFactory(change_class=change_class("major"))
    change.submitted_at = None
    from changes import services

    services.submit_change(
        ChangeRequestFactory(
            change_class=change_class("major"),
            planned_start=jst(2026, 6, 9, 10),
            planned_end=jst(2026, 6, 9, 11),
        ),
        actor=admin_user,
    )
    major = ChangeRequest.objects.get(state="cab_review")
    response = api_as(admin_user).post(
        f"{URL}{major.number}/transitions/", {"transition": "cab_approve"}
    )
    assert response.status_code == 403


def test_votes_endpoint(api_as, make_user, operator):
    members = [make_user(Role.CAB_MEMBER, username=f"cab{i}") for i in range(3)]
    from changes import services

    change = services.submit_change(
        ChangeRequestFactory(
            requester=operator,
            change_class=change_class("major"),
            planned_start=jst(2026, 6, 9, 10),
            planned_end=jst(2026, 6, 9, 11),
        ),
        actor=operator,
    )
    url = f"{URL}{change.number}/votes/"
    assert api_as(members[0]).post(url, {"vote": "maybe"}).status_code == 400
    assert api_as(members[0]).post(url, {"vote": "reject"}).status_code == 400
    assert api_as(operator).post(url, {"vote": "approve"}).status_code == 403
    assert api_as(members[0]).post(url, {"vote": "approve", "comment": "ok"}).status_code == 201
    assert api_as(members[1]).post(url, {"vote": "approve"}).status_code == 201
    assert api_as(members[2]).post(url, {"vote": "approve"}).status_code == 409
    votes = api_as(operator).get(url).json()
    assert [v["member"] for v in votes] == ["cab0", "cab1"]
    change.refresh_from_db()
    assert change.state == "approved"


def test_work_log_and_verification(api_as, operator, ops_manager):
    from changes import services

    change = ChangeRequestFactory(requester=operator)
    services.submit_change(change, actor=operator)
    services.decide_change(change, actor=ops_manager, decision="approved")
    url = f"{URL}{change.number}/"
    client = api_as(operator)
    assert client.post(url + "work-log/", {"text": "early"}).status_code == 409
    client.post(url + "transitions/", {"transition": "schedule", "planned_start":
                "2026-06-10 10:00", "planned_end": "2026-06-10 11:00"})  # fmt: skip
    response = api_as(ops_manager).post(
        url + "transitions/",
        {
            "transition": "start_implementation",
            "backup_waived": True,
            "backup_waiver_reason": "stateless",
        },  # fmt: skip
        format="json",
    )
    assert response.json()["state"] == "implementing", response.json()
    assert client.post(url + "work-log/", {"text": ""}).status_code == 400
    assert client.post(url + "work-log/", {"text": "drained"}).status_code == 201
    assert [e["text"] for e in client.get(url + "work-log/").json()] == ["drained"]
    client.post(url + "transitions/", {"transition": "start_verification"})
    assert client.post(url + "verification/", {"checks": "yes"}, format="json").status_code == 400
    assert client.post(url + "verification/", {"checks": {}}, format="json").status_code == 400
    checks = {"errors_after_change": False, "slo_degradation": False,
              "unexpected_side_effects": False, "other": False}  # fmt: skip
    response = client.post(url + "verification/", {"checks": checks}, format="json")
    assert response.json()["verification_result"] == "passed"


@pytest.fixture
def scheduled_web(operator, ops_manager):
    from changes import services

    change = ChangeRequestFactory(requester=operator, implementer=operator)
    change.services.add(ServiceFactory(slug="web"))
    services.submit_change(change, actor=operator)
    services.decide_change(change, actor=ops_manager, decision="approved")
    services.schedule_change(change, actor=operator, data={"planned_start": "2026-06-10 10:00",
                             "planned_end": "2026-06-10 11:00"})  # fmt: skip
    return change


def test_a_waiver_by_someone_who_may_not_waive_is_403(api_as, operator, ops_manager, scheduled_web):
    """A permission question, so 403 like every "not you" refusal of the API (the request itself
    is well formed, and the same user may start the implementation with a backup job)."""
    url = f"{URL}{scheduled_web.number}/transitions/"
    waiver = {"transition": "start_implementation", "backup_waived": True,
              "backup_waiver_reason": "stateless"}  # fmt: skip
    response = api_as(operator).post(url, waiver, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    assert "approver role or an ops manager" in response.json()["detail"]
    assert ChangeRequest.objects.get(pk=scheduled_web.pk).state == "scheduled"
    response = api_as(ops_manager).post(url, waiver, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["backup_waived_by"]) == ("implementing", "manager")
    assert body["backup_waived_at"].startswith("2026-06-01T")


def test_a_backup_of_another_service_is_400_naming_the_guard(api_as, operator, scheduled_web):
    from tests.backups.factories import BackupJobFactory, BackupPolicyFactory

    job = BackupJobFactory(
        policy=BackupPolicyFactory(service=ServiceFactory(slug="billing"), name="Billing DB"),
        state="succeeded",
        finished_at=jst(2026, 6, 1, 9),
    )
    response = api_as(operator).post(
        f"{URL}{scheduled_web.number}/transitions/",
        {"transition": "start_implementation", "pre_change_backup": job.number},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["guard"]) == ("guard_failed", "has_pre_change_backup")
    assert f"{job.number} is a backup of the policy “Billing DB”" in body["detail"]


def test_read_token_cannot_write(api_as, operator):
    client = api_as(operator, scope=ApiToken.Scope.READ)
    assert client.get(URL).status_code == 200
    assert client.post(URL, rfc(), format="json").status_code == 403


def test_unauthenticated_is_401(client):
    assert client.get(URL).status_code in (401, 403)


def test_freeze_windows_only_managers_write(api_as, operator, ops_manager):
    body = {"name": "Peak", "starts_at": "2026-07-01T00:00:00+09:00",
            "ends_at": "2026-07-02T00:00:00+09:00"}  # fmt: skip
    assert api_as(operator).post("/api/v1/freeze-windows/", body).status_code == 403
    assert api_as(ops_manager).post("/api/v1/freeze-windows/", body).status_code == 201
    bad = body | {"ends_at": "2026-06-01T00:00:00+09:00"}
    assert api_as(ops_manager).post("/api/v1/freeze-windows/", bad).status_code == 400
    assert api_as(operator).get("/api/v1/freeze-windows/").json()["count"] == 1


def test_templates_are_read_only(api_as, operator, ops_leader):
    assert api_as(operator).get("/api/v1/change-templates/").status_code == 200
    assert api_as(ops_leader).post("/api/v1/change-templates/", {}).status_code == 405


# --- iCalendar ---------------------------------------------------------------------------


def test_ical_escaping_and_folding():
    assert ical.escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    folded = ical.fold("SUMMARY:" + "変更" * 40)
    lines = folded.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "".join(line[1:] if i else line for i, line in enumerate(lines)) == (
        "SUMMARY:" + "変更" * 40
    )


def _scheduled_change():
    from changes import services

    manager = __import__("tests.factories", fromlist=["UserFactory"]).UserFactory(
        role="ops_manager", username="m"
    )
    change = ChangeRequestFactory(title="Deploy; v2, now")
    services.submit_change(change, actor=change.requester)
    services.decide_change(change, actor=manager, decision="approved")
    return change


def test_calendar_feed(api_as, operator):
    change = _scheduled_change()
    FreezeWindowFactory()
    response = api_as(operator).get(URL + "calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert f"UID:{change.number}@" in body
    assert "SUMMARY:" + change.number + " Deploy\\; v2\\, now" in body
    assert "DTSTART:20260610T010000Z" in body
    assert "Freeze: Year-end freeze" in body


def test_calendar_feed_with_the_per_user_key(client, operator):
    _scheduled_change()
    url = f"{URL}calendar.ics?user={operator.username}&key={ical.feed_key(operator)}"
    assert client.get(url).status_code == 200
    assert client.get(f"{URL}calendar.ics?user=op&key=wrong").status_code == 401
    assert client.get(f"{URL}calendar.ics").status_code == 401
