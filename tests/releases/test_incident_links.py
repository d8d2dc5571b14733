"""Incident → causing deployment (§8 ↔ §10): the link, its API and screen, and the DORA
inputs read from it."""

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from itsm.core.models import ApiToken, AuditEvent
from releases import selectors, services
from releases.models import Deployment, DeploymentIncident, Environment

from ..incidents.factories import IncidentFactory
from .factories import release_in

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)


def deploy(release, *, env="production", result="succeeded", at=T0, minutes=10, **extra):
    return Deployment.objects.create(
        release=release,
        environment=Environment.objects.get(code=env),
        version=release.version,
        result=result,
        started_at=at,
        finished_at=at + dt.timedelta(minutes=minutes),
        **extra,
    )


# --------------------------------------------------------------------------- service


def test_linking_twice_keeps_one_link_and_audits_both_sides(ops_leader):
    deployment = deploy(release_in("production"))
    incident = IncidentFactory()
    link, created = services.link_causing_deployment(
        deployment, incident=incident, actor=ops_leader, note="Bad config"
    )
    again, created_again = services.link_causing_deployment(
        deployment, incident=incident, actor=ops_leader
    )
    assert created and not created_again and again.pk == link.pk
    assert DeploymentIncident.objects.count() == 1
    actions = AuditEvent.objects.filter(action="causing_deployment_linked")
    assert actions.count() == 2  # on the release and on the incident


def test_unlinking_removes_the_link_and_is_audited(ops_leader):
    deployment = deploy(release_in("production"))
    link, _created = services.link_causing_deployment(
        deployment, incident=IncidentFactory(), actor=ops_leader
    )
    services.unlink_causing_deployment(link, actor=ops_leader)
    assert not DeploymentIncident.objects.exists()
    assert AuditEvent.objects.filter(action="causing_deployment_unlinked").count() == 2


# --------------------------------------------------------------------------- API


@pytest.fixture
def pipeline(make_user):
    user = make_user("developer", username="ci")
    _token, raw = ApiToken.issue(user, name="github-actions")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_api_links_an_incident_and_lists_it(pipeline):
    deployment = deploy(release_in("production"))
    incident = IncidentFactory()
    url = f"/api/v1/deployments/{deployment.pk}/incidents/"
    first = pipeline.post(url, {"incident": incident.number.lower(), "note": "x"}, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["incident"] == incident.number
    assert first.json()["linked_via"] == "github-actions"
    again = pipeline.post(url, {"incident": incident.number}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    listed = pipeline.get(url).json()
    assert [row["incident"] for row in listed] == [incident.number]


@pytest.mark.parametrize("body", [{"incident": "INC-999999"}, {}, {"incident": ""}])
def test_api_refuses_an_unknown_or_missing_incident(pipeline, body):
    deployment = deploy(release_in("production"))
    response = pipeline.post(f"/api/v1/deployments/{deployment.pk}/incidents/", body, format="json")
    assert response.status_code == 400
    assert "incident" in response.json()["errors"]


def test_api_link_needs_the_permission_and_a_write_token(api_as, make_user):
    deployment = deploy(release_in("production"))
    incident = IncidentFactory()
    url = f"/api/v1/deployments/{deployment.pk}/incidents/"
    operator = api_as(make_user("operator", username="op"))
    assert operator.get(url).status_code == 200
    assert operator.post(url, {"incident": incident.number}, format="json").status_code == 403
    reader = api_as(make_user("developer", username="r"), scope=ApiToken.Scope.READ)
    assert reader.post(url, {"incident": incident.number}, format="json").status_code == 403
    assert not DeploymentIncident.objects.exists()


def test_api_link_to_an_unknown_deployment_is_404(pipeline):
    incident = IncidentFactory()
    response = pipeline.post(
        "/api/v1/deployments/999999/incidents/", {"incident": incident.number}, format="json"
    )
    assert response.status_code == 404


# --------------------------------------------------------------------------- screen


@pytest.fixture
def leader_client(client, ops_leader):
    client.force_login(ops_leader)
    return client


def test_the_release_page_links_an_incident_to_its_deployment(leader_client):
    release = release_in("production")
    deployment = deploy(release)
    incident = IncidentFactory(title="Checkout 500s")
    response = leader_client.post(
        reverse("releases:incident_link", args=[release.number]),
        {"deployment": deployment.pk, "incident": incident.number, "note": "Config flag"},
        follow=True,
    )
    assert response.status_code == 200
    assert DeploymentIncident.objects.get().incident == incident
    page = response.content.decode()
    assert "Checkout 500s" in page and incident.get_absolute_url() in page


def test_the_release_page_reports_an_unknown_incident(leader_client):
    release = release_in("production")
    deployment = deploy(release)
    response = leader_client.post(
        reverse("releases:incident_link", args=[release.number]),
        {"deployment": deployment.pk, "incident": "INC-424242"},
        follow=True,
    )
    assert response.status_code == 200
    assert not DeploymentIncident.objects.exists()
    errors = [m for m in response.context["messages"] if m.level_tag == "error"]
    assert len(errors) == 1


def test_a_deployment_of_another_release_cannot_be_chosen(leader_client):
    release = release_in("production")
    deploy(release)
    other = deploy(release_in("production"))
    leader_client.post(
        reverse("releases:incident_link", args=[release.number]),
        {"deployment": other.pk, "incident": IncidentFactory().number},
    )
    assert not DeploymentIncident.objects.exists()


def test_operators_see_links_but_cannot_add_or_remove(client, operator, ops_leader):
    release = release_in("production")
    link, _ = services.link_causing_deployment(
        deploy(release), incident=IncidentFactory(), actor=ops_leader
    )
    client.force_login(operator)
    page = client.get(release.get_absolute_url()).content.decode()
    assert link.incident.number in page and 'data-testid="incident-link-form"' not in page
    response = client.post(reverse("releases:incident_unlink", args=[release.number, link.pk]))
    assert response.status_code == 403


def test_the_release_page_removes_a_wrong_link(leader_client, ops_leader):
    release = release_in("production")
    link, _ = services.link_causing_deployment(
        deploy(release), incident=IncidentFactory(), actor=ops_leader
    )
    response = leader_client.post(
        reverse("releases:incident_unlink", args=[release.number, link.pk])
    )
    assert response.status_code == 302
    assert not DeploymentIncident.objects.exists()


# --------------------------------------------------------------------------- DORA inputs


def test_incident_causing_deployments_count_as_failures_with_recovery(ops_leader):
    release = release_in("production")
    ok = deploy(release, at=T0)
    causing = deploy(release, at=T0 + dt.timedelta(days=1))
    failed = deploy(release, at=T0 + dt.timedelta(days=2), result="failed")
    done = causing.finished_at
    incident = IncidentFactory(detected_at=done, recovered_at=done + dt.timedelta(hours=3))
    services.link_causing_deployment(causing, incident=incident, actor=ops_leader)
    data = selectors.incident_caused_failures(since=T0, until=T0 + dt.timedelta(days=7))
    assert data["caused_incident_ids"] == [causing.pk]
    assert data["failed_deployment_ids"] == sorted([causing.pk, failed.pk])
    assert ok.pk not in data["failed_deployment_ids"]
    assert data["recovery_hours"] == [3.0] and data["unrecovered"] == 0


def test_an_unrecovered_incident_leaves_its_deployment_unrecovered(ops_leader):
    causing = deploy(release_in("production"))
    services.link_causing_deployment(causing, incident=IncidentFactory(), actor=ops_leader)
    data = selectors.incident_caused_failures(since=T0, until=T0 + dt.timedelta(days=1))
    assert data["recovery_hours"] == [] and data["unrecovered"] == 1


def test_rollbacks_and_deployments_during_the_incident_are_rework(ops_leader):
    release = release_in("production")
    causing = deploy(release, at=T0)
    incident = IncidentFactory(
        detected_at=T0 + dt.timedelta(minutes=15), recovered_at=T0 + dt.timedelta(hours=5)
    )
    services.link_causing_deployment(causing, incident=incident, actor=ops_leader)
    rollback = deploy(release, at=T0 + dt.timedelta(hours=1), rollback_of=causing)
    fix = deploy(release_in("production", service=release.service), at=T0 + dt.timedelta(hours=2))
    later = deploy(release, at=T0 + dt.timedelta(hours=6))
    other_service = deploy(release_in("production"), at=T0 + dt.timedelta(hours=2))
    data = selectors.incident_caused_failures(since=T0, until=T0 + dt.timedelta(days=1))
    assert data["rework_deployment_ids"] == sorted([rollback.pk, fix.pk])
    assert later.pk not in data["rework_deployment_ids"]
    assert other_service.pk not in data["rework_deployment_ids"]


def test_the_dora_inputs_filter_by_service_and_period(ops_leader):
    release = release_in("production")
    causing = deploy(release, at=T0)
    services.link_causing_deployment(causing, incident=IncidentFactory(), actor=ops_leader)
    assert (
        selectors.incident_caused_failures(
            since=T0, until=T0 + dt.timedelta(days=1), service="nope"
        )["caused_incident_ids"]
        == []
    )
    assert (
        selectors.incident_caused_failures(
            since=T0 + dt.timedelta(days=1), until=T0 + dt.timedelta(days=2)
        )["caused_incident_ids"]
        == []
    )
    assert selectors.incident_caused_failures(
        since=T0, until=T0 + dt.timedelta(days=1), service=release.service.slug
    )["caused_incident_ids"] == [causing.pk]
