"""A failed change opens a linked incident in one click (§9.5 → §8.3.1): service, API, screen."""

import pytest
import time_machine
from django.utils import translation

from changes import services
from changes.choices import Decision, IncidentRelation
from changes.models import ChangeRequest, IncidentLink, RollbackCriterion
from incidents.models import Incident
from itsm.core.roles import Role
from itsm.core.workflow import TransitionForbidden, TransitionNotAllowed, perform
from tests.factories import ServiceFactory

from .factories import ChangeRequestFactory, jst

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(jst(2026, 6, 1, 10), tick=False), translation.override("en"):
        yield


def walk(change, manager, to: str) -> ChangeRequest:
    """Take a normal change from draft to ``to`` through the services."""
    doer = change.requester
    steps = [
        ("in_review", lambda: services.submit_change(change, actor=doer)),
        (
            "approved",
            lambda: services.decide_change(change, actor=manager, decision=Decision.APPROVED),
        ),
        (
            "scheduled",
            lambda: services.schedule_change(
                change,
                actor=doer,
                data={"planned_start": "2026-06-10 10:00", "planned_end": "2026-06-10 12:00"},
            ),
        ),
        (
            "implementing",
            lambda: services.start_implementation(
                change, actor=manager, data={"backup_waived": True, "backup_waiver_reason": "none"}
            ),
        ),
        ("verifying", lambda: perform(change, "start_verification", actor=doer)),
        (
            "rolled_back",
            lambda: services.roll_back_change(
                change, actor=doer, comment="p95 doubled", data={"rollback_steps": "redeployed v1"}
            ),
        ),
        ("cause_analysis", lambda: perform(change, "start_cause_analysis", actor=doer)),
    ]
    for state, step in steps:
        if change.state == to:
            break
        step()
        assert change.state == state
    return change


@pytest.fixture
def failed(operator, ops_manager):
    change = ChangeRequestFactory(requester=operator, title="Upgrade the web tier")
    change.services.add(ServiceFactory(slug="web", name="Web shop"))
    return walk(change, ops_manager, "rolled_back")


def test_a_rolled_back_change_opens_a_linked_incident(failed, operator):
    incident, created = services.open_incident_for_failed_change(failed, actor=operator)
    assert created is True
    assert incident.title == f"Failed change {failed.number}: Upgrade the web tier"
    assert "redeployed v1" in incident.description
    assert incident.service.slug == "web"
    assert incident.source == "ops_discovery"
    assert incident.state == "detected"  # waits for triage like any other incident
    link = IncidentLink.objects.get()
    assert (link.change, link.incident, link.relation) == (
        failed,
        incident,
        IncidentRelation.CAUSED_BY,
    )
    assert services.caused_incident(failed) == incident


def test_a_second_click_returns_the_existing_incident(failed, operator, ops_leader):
    first, _ = services.open_incident_for_failed_change(failed, actor=operator)
    again, created = services.open_incident_for_failed_change(failed, actor=ops_leader)
    assert (again, created) == (first, False)
    assert Incident.objects.count() == 1
    assert IncidentLink.objects.count() == 1


def test_in_cause_analysis_and_closed_as_failed_it_still_works(failed, operator, ops_leader):
    perform(failed, "start_cause_analysis", actor=operator)
    incident, created = services.open_incident_for_failed_change(failed, actor=operator)
    assert created and "redeployed v1" in incident.description
    perform(failed, "close_failed", actor=ops_leader, data={"cause_findings": "missing index"})
    assert services.open_incident_for_failed_change(failed, actor=operator) == (incident, False)


def test_closed_as_failed_without_an_incident_opens_one_with_the_findings(
    failed, operator, ops_leader
):
    perform(failed, "start_cause_analysis", actor=operator)
    perform(failed, "close_failed", actor=ops_leader, data={"cause_findings": "missing index"})
    incident, created = services.open_incident_for_failed_change(failed, actor=operator)
    assert created and "missing index" in incident.description


@pytest.mark.parametrize("to", ["draft", "in_review", "approved", "scheduled", "verifying"])
def test_a_change_that_did_not_fail_opens_no_incident(operator, ops_manager, to):
    change = walk(ChangeRequestFactory(requester=operator), ops_manager, to)
    with pytest.raises(TransitionNotAllowed):
        services.open_incident_for_failed_change(change, actor=operator)
    assert not Incident.objects.exists()


def test_a_successful_closed_change_opens_no_incident(operator, ops_manager):
    change = walk(ChangeRequestFactory(requester=operator), ops_manager, "verifying")
    checks = {c.code: False for c in RollbackCriterion.objects.filter(is_active=True)}
    services.verify_change(change, actor=operator, checks=checks)
    services.close_change(change, actor=operator, data={"result_report": "fine"})
    with pytest.raises(TransitionNotAllowed):
        services.open_incident_for_failed_change(change, actor=operator)


def test_someone_who_may_not_open_incidents_is_refused(failed, make_user):
    cab = make_user(Role.CAB_MEMBER, username="cab")
    with pytest.raises(TransitionForbidden):
        services.open_incident_for_failed_change(failed, actor=cab)


# --- API ------------------------------------------------------------------------------------


def test_api_opens_then_returns_the_same_incident(failed, api_as, operator):
    client = api_as(operator)
    url = f"/api/v1/changes/{failed.number}/incident/"
    first = client.post(url)
    assert first.status_code == 201
    body = first.json()
    incident = Incident.objects.get()
    assert body == {
        "incident": incident.number,
        "title": incident.title,
        "state": "detected",
        "url": incident.get_absolute_url(),
        "created": True,
    }
    second = client.post(url)
    assert second.status_code == 200
    assert second.json()["incident"] == incident.number
    assert second.json()["created"] is False


def test_api_on_a_change_that_did_not_fail_is_409(api_as, operator):
    change = ChangeRequestFactory(requester=operator)
    response = api_as(operator).post(f"/api/v1/changes/{change.number}/incident/")
    assert response.status_code == 409
    assert not Incident.objects.exists()


def test_api_refuses_roles_without_incident_rights(failed, api_as, make_user):
    response = api_as(make_user(Role.CAB_MEMBER, username="cab")).post(
        f"/api/v1/changes/{failed.number}/incident/"
    )
    assert response.status_code == 403


def test_api_unknown_change_is_404(api_as, operator):
    assert api_as(operator).post("/api/v1/changes/CHG-999999/incident/").status_code == 404


# --- screen ---------------------------------------------------------------------------------


def test_the_detail_page_offers_the_button_then_shows_the_incident(failed, client, operator):
    client.force_login(operator)
    page = client.get(failed.get_absolute_url()).content.decode()
    assert 'data-testid="failure-incident"' in page
    assert f'action="/changes/{failed.number}/incident/"' in page
    response = client.post(f"/changes/{failed.number}/incident/")
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url()
    page = client.get(failed.get_absolute_url()).content.decode()
    assert incident.number in page
    assert f'action="/changes/{failed.number}/incident/"' not in page
    again = client.post(f"/changes/{failed.number}/incident/", follow=True)
    assert Incident.objects.count() == 1
    # the portal's default language is Japanese
    assert f"{failed.number}については既に{incident.number}が起票されています。" in (
        again.content.decode()
    )


def test_the_button_is_not_offered_on_a_change_that_did_not_fail(client, operator):
    change = ChangeRequestFactory(requester=operator)
    client.force_login(operator)
    page = client.get(change.get_absolute_url()).content.decode()
    assert 'data-testid="failure-incident"' not in page
    response = client.post(f"/changes/{change.number}/incident/", follow=True)
    assert not Incident.objects.exists()
    assert "インシデントを起票できるのは失敗した変更" in response.content.decode()


def test_the_incident_view_only_accepts_post(failed, client, operator):
    client.force_login(operator)
    assert client.get(f"/changes/{failed.number}/incident/").status_code == 405
