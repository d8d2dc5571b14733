"""Roles in an incident, the incident page's communication panel, update templates, impact
reduction, and the API (issue 17 §1, §2, §4): who may do what, bad input as field errors,
hand-over of command audited."""

import pytest
from django.urls import reverse

from comms import services
from comms.choices import ServiceStatus, UpdateStatus
from comms.models import IncidentComms, StakeholderUpdate, UpdateTemplate
from incidents import services as incident_services
from incidents.choices import TimelineKind
from itsm.core.audit import events_for
from itsm.core.models import ApiToken
from itsm.core.roles import Role
from tests.incidents.conftest import advance

pytestmark = pytest.mark.django_db


def test_taking_and_handing_over_command_is_audited(file_incident, operator, commander, make_user):
    incident = file_incident("P1")
    services.assign_roles(incident, actor=operator, commander=operator)  # nobody had it
    other = make_user(Role.OPERATOR, username="op2")
    with pytest.raises(services.PermissionDenied):
        services.assign_roles(incident, actor=other, commander=other)  # not theirs to take
    services.assign_roles(incident, actor=operator, commander=commander)  # handed over
    assert IncidentComms.objects.get(incident=incident).commander == commander
    hand_overs = [e for e in events_for(incident) if e.action == "hand_over_command"]
    assert [e.data["commander"] for e in hand_overs] == [
        ["—", str(operator)],
        [str(operator), str(commander)],
    ]
    assert incident.timeline.filter(kind=TimelineKind.ASSIGNMENT, text__contains=str(commander))


def test_an_ops_leader_may_take_command_from_anyone(file_incident, operator, commander):
    incident = file_incident("P1")
    services.assign_roles(incident, actor=operator, commander=operator)
    services.assign_roles(incident, actor=commander, commander=commander)
    assert IncidentComms.objects.get(incident=incident).commander == commander


def test_only_the_commander_sets_the_public_status(file_incident, operator, commander):
    incident = file_incident("P1")
    services.assign_roles(incident, actor=operator, commander=operator)
    services.set_public_status(incident, actor=operator, service_status=ServiceStatus.DEGRADED)
    services.assign_roles(incident, actor=operator, commander=commander)
    with pytest.raises(services.PermissionDenied):  # no longer the commander
        services.set_public_status(incident, actor=operator, service_status="")
    with pytest.raises(services.ValidationError):
        services.set_public_status(incident, actor=commander, service_status="on_fire")


def test_executives_read_but_do_not_post(file_incident, make_user):
    incident = file_incident("P1")
    executive = make_user(Role.EXECUTIVE, username="ceo")
    with pytest.raises(services.PermissionDenied):
        services.post_update(incident, actor=executive, status="investigating", message_en="x")


def test_the_incident_page_shows_roles_countdown_and_subscribers(
    client, file_incident, commander, make_user
):
    incident = file_incident("P1")
    services.assign_roles(incident, actor=commander, commander=commander)
    services.subscribe(actor=commander, incident=incident, email="board@example.com")
    client.force_login(commander)
    text = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="comms-panel"' in text
    assert str(commander) in text
    assert 'data-testid="update-due"' in text
    assert "board@example.com" in text


def test_a_template_is_prefilled_with_the_impact_reduction(client, file_incident, commander, shop):
    incident = file_incident("P1")
    incident_services.add_timeline_entry(
        incident,
        actor=commander,
        kind=TimelineKind.MITIGATION,
        text="Traffic moved to the standby region",
    )
    template = UpdateTemplate.objects.create(
        name="Reduced",
        service=shop,
        status=UpdateStatus.IDENTIFIED,
        message_en="{service}: impact reduced:\n{mitigations}\nNext update {next_update}. {unknown}",
    )
    filled = services.prefill(template, incident)
    assert filled["message_en"].startswith("Web shop: impact reduced:\n- Traffic moved")
    assert "{unknown}" in filled["message_en"]  # a placeholder we do not know stays as written
    client.force_login(commander)
    response = client.get(
        reverse("comms:post_update", args=[incident.number]) + f"?template={template.pk}"
    )
    assert "Traffic moved to the standby region" in response.content.decode()


def test_impact_reduction_is_its_own_timeline_kind_and_reaches_the_postmortem(
    api_as, file_incident, commander
):
    incident = file_incident("P1")
    response = api_as(commander).post(
        f"/api/v1/incidents/{incident.number}/timeline/",
        {"kind": "mitigation", "text": "Switched to the maintenance page"},
        format="json",
    )
    assert response.status_code == 201, response.content
    advance(incident, "start_response", "start_recovery", "verify")
    incident_services.close_incident(incident, actor=commander, resolution_summary="pool enlarged")
    postmortem = incident.postmortem
    assert "Switched to the maintenance page" in postmortem.impact


def test_a_refused_update_form_keeps_what_was_written(client, file_incident, commander):
    incident = file_incident("P1")
    client.force_login(commander)
    response = client.post(
        reverse("comms:post_update", args=[incident.number]),
        {"status": "investigating", "audience": "public", "message_ja": "", "message_en": ""},
    )
    assert response.status_code == 400
    assert (
        "Japanese, English or both" in response.content.decode()
        or "日本語" in response.content.decode()
    )
    assert not StakeholderUpdate.objects.exists()


# ---------------------------------------------------------------------------- API


def test_api_posts_an_update_and_reads_the_cadence(api_as, file_incident, commander):
    incident = file_incident("P1")
    api = api_as(commander)
    response = api.post(
        f"/api/v1/incidents/{incident.number}/updates/",
        {"status": "identified", "audience": "public", "message_en": "Checkout slow."},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["posted_by"] == commander.username
    comms = api.get(f"/api/v1/incidents/{incident.number}/comms/").json()
    assert comms["next_update_due_at"] is not None and comms["last_update_at"] is not None
    listed = api.get(f"/api/v1/incidents/{incident.number}/updates/").json()
    assert [u["message_en"] for u in listed] == ["Checkout slow."]


def test_api_bad_input_gets_field_messages(api_as, file_incident, commander):
    incident = file_incident("P1")
    api = api_as(commander)
    response = api.post(
        f"/api/v1/incidents/{incident.number}/updates/",
        {"status": "panicking", "audience": "everyone"},
        format="json",
    )
    assert response.status_code == 400
    assert {"status", "audience"} <= set(
        response.json()["errors"] if "errors" in response.json() else response.json()
    )
    response = api.post(
        f"/api/v1/incidents/{incident.number}/updates/", {"status": "identified"}, format="json"
    )
    assert response.status_code == 400
    assert not StakeholderUpdate.objects.exists()


def test_api_roles_and_permissions(api_as, file_incident, commander, operator, make_user):
    incident = file_incident("P1")
    url = f"/api/v1/incidents/{incident.number}/comms/"
    assert (
        api_as(operator).patch(url, {"commander": operator.username}, format="json").status_code
        == 200
    )
    other = make_user(Role.OPERATOR, username="op2")
    assert api_as(other).patch(url, {"commander": other.username}, format="json").status_code == 403
    response = api_as(commander).patch(
        url, {"commander": commander.username, "service_status": "degraded"}, format="json"
    )
    assert response.status_code == 200 and response.json()["service_status"] == "degraded"
    read_only = api_as(commander, scope=ApiToken.Scope.READ)
    assert (
        read_only.post(
            f"/api/v1/incidents/{incident.number}/updates/",
            {"status": "identified", "message_en": "x"},
            format="json",
        ).status_code
        == 403
    )
    executive = make_user(Role.EXECUTIVE, username="ceo")
    assert api_as(executive).get(url).status_code == 200
    assert api_as(executive).patch(url, {"public_title": "x"}, format="json").status_code == 403


def test_api_subscribers(api_as, file_incident, commander, make_user):
    incident = file_incident("P1")
    api = api_as(commander)
    url = f"/api/v1/incidents/{incident.number}/subscribers/"
    assert api.post(url, {"email": "board@example.com"}, format="json").status_code == 201
    again = api.post(url, {"email": "board@example.com"}, format="json")
    assert again.status_code == 400
    assert (
        api.post(
            url, {"email": "x@example.com", "user": commander.username}, format="json"
        ).status_code
        == 400
    )
    [row] = api.get(url).json()
    assert api.delete(f"{url}{row['id']}/").status_code == 204
    assert api.get(url).json() == []


def test_api_internal_status(api_as, file_incident, commander):
    file_incident("P2")
    data = api_as(commander).get("/api/v1/status/").json()
    assert data["status"] == "partial_outage"
    assert data["incidents"][0]["priority"] == "P2"


def test_the_panel_forms_answer_with_a_message(client, file_incident, commander, operator):
    incident = file_incident("P1")
    back = incident.get_absolute_url() + "#comms"
    client.force_login(operator)
    response = client.post(reverse("comms:subscribe_incident", args=[incident.number]), {"me": "1"})
    assert response.url == back
    assert client.post(reverse("comms:take_command", args=[incident.number])).url == back
    client.force_login(commander)  # an ops leader may take over
    client.post(reverse("comms:take_command", args=[incident.number]))
    client.force_login(operator)  # no longer the commander: refused with a message
    response = client.post(
        reverse("comms:public_status", args=[incident.number]),
        {"service_status": "degraded"},
        follow=True,
    )
    assert "ops leader" in response.content.decode() or "運用リーダー" in response.content.decode()
    comms = IncidentComms.objects.get(incident=incident)
    assert comms.commander == commander and comms.service_status == ""
    assert [s.user for s in incident.subscriptions.all()] == [operator]
