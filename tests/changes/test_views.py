"""Change management screens."""

import pytest
import time_machine
from django.urls import reverse

from changes import selectors, services
from changes.models import ChangeRequest
from itsm.core.roles import Role

from .factories import (
    ChangeRequestFactory,
    FreezeWindowFactory,
    StandardChangeTemplateFactory,
    change_class,
    jst,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(jst(2026, 6, 1, 10), tick=False):
        yield


def form_data(**overrides):
    return {
        "title": "Rotate DB credentials",
        "category": "security_configuration",
        "change_class": change_class("normal").pk,
        "affected_users": "none",
        "risk_level": "low",
        "implementation_plan": "rotate",
        "rollback_plan": "restore old secret",
        "planned_start": "2026-06-10T10:00",
        "planned_end": "2026-06-10T11:00",
    } | overrides


def test_pages_need_login(client):
    for url in ("/changes/", "/changes/new/", "/changes/approvals/", "/changes/calendar/"):
        assert client.get(url).status_code == 302


def test_list_filters(client, operator):
    ChangeRequestFactory(title="Patch nginx", change_class=change_class("major"))
    ChangeRequestFactory(title="Rotate keys")
    client.force_login(operator)
    body = client.get("/changes/?change_class=major").content.decode()
    assert "Patch nginx" in body and "Rotate keys" not in body
    assert "Rotate keys" in client.get("/changes/?q=rotate").content.decode()
    assert client.get("/changes/?state=bogus").status_code == 200  # an invalid filter, no 500


def test_create_form_makes_a_draft(client, operator):
    client.force_login(operator)
    page = client.get("/changes/new/")
    assert b"lead-time-hint" in page.content
    response = client.post("/changes/new/", form_data())
    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert (change.state, change.requester) == ("draft", operator)


def test_create_form_bad_input_is_a_form_error(client, operator):
    client.force_login(operator)
    response = client.post("/changes/new/", form_data(planned_end="2026-06-10T09:00", title=""))
    assert response.status_code == 200
    assert ChangeRequest.objects.count() == 0
    assert b"invalid-feedback" in response.content


def test_create_from_template(client, operator):
    template = StandardChangeTemplateFactory()
    client.force_login(operator)
    response = client.post(
        "/changes/new/from-template/",
        {
            "tpl-template": template.pk,
            "tpl-planned_start": "2026-06-01T14:00",
            "tpl-planned_end": "2026-06-01T15:00",
        },  # fmt: skip
    )
    assert response.status_code == 302
    assert ChangeRequest.objects.get().template == template
    assert client.post("/changes/new/from-template/", {"tpl-template": 999}).status_code == 400


def test_edit_only_own_draft(client, operator, make_user):
    change = ChangeRequestFactory(requester=operator)
    other = make_user(Role.OPERATOR, username="other")
    client.force_login(other)
    assert client.get(f"/changes/{change.number}/edit/").status_code == 403
    client.force_login(operator)
    response = client.post(f"/changes/{change.number}/edit/", form_data(title="Renamed"))
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.title == "Renamed"


def test_detail_shows_plans_and_transitions(client, operator):
    change = ChangeRequestFactory(requester=operator, rollback_plan="<script>x</script>")
    client.force_login(operator)
    body = client.get(change.get_absolute_url()).content.decode()
    assert change.number in body
    assert 'data-transition="submit"' in body
    assert "<script>x</script>" not in body  # escaped
    assert client.get("/changes/CHG-999999/").status_code == 404


def test_manager_approves_from_the_approval_screen(client, operator, ops_manager):
    change = services.submit_change(ChangeRequestFactory(requester=operator), actor=operator)
    client.force_login(ops_manager)
    page = client.get("/changes/approvals/").content.decode()
    assert f"pending-{change.number}" in page
    client.post(f"/changes/{change.number}/decide/", {"decision": "rejected", "comment": ""})
    change.refresh_from_db()
    assert change.state == "in_review"  # a rejection without reason is refused
    client.post(f"/changes/{change.number}/decide/", {"decision": "approved", "comment": "ok"})
    change.refresh_from_db()
    assert change.state == "approved"


def test_requester_sees_no_own_change_in_the_queue(client, make_user):
    manager = make_user(Role.OPS_MANAGER, username="m2")
    change = services.submit_change(ChangeRequestFactory(requester=manager), actor=manager)
    assert change not in selectors.awaiting_decision(manager)
    client.force_login(manager)
    client.post(f"/changes/{change.number}/decide/", {"decision": "approved"})
    change.refresh_from_db()
    assert change.state == "in_review"


def test_cab_member_votes_on_the_approval_screen(client, make_user, operator):
    members = [make_user(Role.CAB_MEMBER, username=f"cab{i}") for i in range(3)]
    change = services.submit_change(
        ChangeRequestFactory(
            requester=operator,
            change_class=change_class("major"),
            planned_start=jst(2026, 6, 9, 10),
            planned_end=jst(2026, 6, 9, 11),
        ),
        actor=operator,
    )
    client.force_login(members[0])
    assert f"pending-{change.number}" in client.get("/changes/approvals/").content.decode()
    client.post(f"/changes/{change.number}/vote/", {"vote": "approve", "comment": "fine"})
    page = client.get("/changes/approvals/").content.decode()
    assert f"agenda-{change.number}" in page and f"pending-{change.number}" not in page
    assert selectors.my_queue(operator)["my_changes"][0] == change


def test_work_log_and_verification_forms(client, operator, ops_manager):
    change = ChangeRequestFactory(requester=operator)
    services.submit_change(change, actor=operator)
    services.decide_change(change, actor=ops_manager, decision="approved")
    services.schedule_change(change, actor=operator, data={"planned_start": "2026-06-10 10:00",
                             "planned_end": "2026-06-10 11:00"})  # fmt: skip
    services.start_implementation(
        change, actor=ops_manager, data={"backup_waived": "on", "backup_waiver_reason": "none"}
    )
    client.force_login(operator)
    client.post(f"/changes/{change.number}/work-log/", {"text": "restarted"})
    client.post(f"/changes/{change.number}/work-log/", {"text": ""})
    assert list(change.work_log.values_list("text", flat=True)) == ["restarted"]
    from itsm.core.workflow import perform

    perform(change, "start_verification", actor=operator)
    body = client.get(change.get_absolute_url()).content.decode()
    assert "verification-form" in body
    client.post(f"/changes/{change.number}/verify/", {"criterion_slo_degradation": "on"})
    change.refresh_from_db()
    assert change.verification_result == "failed"


def test_calendar_highlights_conflicts_and_freezes(client, operator, ops_manager):
    from tests.factories import ServiceFactory

    web = ServiceFactory(slug="web")
    for title in ("a", "b"):
        change = ChangeRequestFactory(title=title)
        change.services.add(web)
        services.submit_change(change, actor=change.requester)
        services.decide_change(change, actor=ops_manager, decision="approved")
    FreezeWindowFactory()
    client.force_login(operator)
    body = client.get("/changes/calendar/?year=2026&month=6").content.decode()
    assert body.count('data-conflict="1"') == 2
    assert "Year-end freeze" in body
    assert "calendar.ics?user=op&amp;key=" in body
    assert client.get("/changes/calendar/?year=x&month=13").status_code == 404


def test_the_waiver_is_shown_with_who_and_when_and_a_forbidden_one_is_an_error(
    client, operator, ops_manager
):
    change = ChangeRequestFactory(requester=operator, implementer=operator)
    services.submit_change(change, actor=operator)
    services.decide_change(change, actor=ops_manager, decision="approved")
    services.schedule_change(change, actor=operator, data={"planned_start": "2026-06-10 10:00",
                             "planned_end": "2026-06-10 11:00"})  # fmt: skip
    waiver = {"transition": "start_implementation", "backup_waived": "on",
              "backup_waiver_reason": "stateless tier"}  # fmt: skip
    url = reverse("core:transition", args=["changes", "changerequest", change.pk])
    client.force_login(operator)
    response = client.post(url, waiver, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "approver role or an ops manager" in response.content.decode()
    assert ChangeRequest.objects.get(pk=change.pk).state == "scheduled"
    client.force_login(ops_manager)
    client.post(url, waiver)
    assert ChangeRequest.objects.get(pk=change.pk).state == "implementing"
    page = client.get(change.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="pre-change-backup"' in page
    assert "stateless tier" in page
    assert "Waived by manager at 2026-06-01 10:00." in page
