"""Configuration through the API (issue 19 part 3): what an administrator sets up, by provisioning
scripts, with the same rules, permissions and audit as everywhere else."""

from __future__ import annotations

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from changes.models import StandardChangeTemplate
from incidents.models import EscalationPolicy, TriageRule
from intake.models import Integration
from itsm.core.models import ApiToken, AuditEvent, Service, Team
from tests.intake.helpers import am_alert, am_body

pytestmark = pytest.mark.django_db
BASE = "/api/v1/config"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def admin_api(api_as, admin_user):
    return api_as(admin_user)


def _config_events(obj) -> list[tuple[str, dict]]:
    return [(e.action, e.data) for e in AuditEvent.objects.for_object(obj).order_by("id")]


def test_an_administrator_provisions_teams_services_and_people_by_natural_keys(admin_api):
    person = admin_api.post(
        f"{BASE}/users/",
        {"username": "sato", "email": "sato@example.com", "roles": ["operator"]},
        format="json",
    )
    assert person.status_code == 201, person.content
    assert person.json()["roles"] == ["operator"] and "password" not in person.json()
    team = admin_api.post(
        f"{BASE}/teams/",
        {"slug": "sre", "name": "SRE", "escalation_level": 1, "members": ["sato"]},
        format="json",
    )
    assert team.status_code == 201, team.content
    service = admin_api.post(
        f"{BASE}/services/",
        {"slug": "api", "name": "Public API", "owner_team": "sre"},
        format="json",
    )
    assert service.status_code == 201, service.content
    assert Service.objects.get(slug="api").owner_team == Team.objects.get(slug="sre")
    assert admin_api.get(f"{BASE}/services/api/").json()["owner_team"] == "sre"
    assert not Team.objects.get(slug="sre").members.get().has_usable_password()

    renamed = admin_api.patch(f"{BASE}/teams/sre/", {"name": "Site reliability"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Site reliability"
    team = Team.objects.get(slug="sre")
    assert _config_events(team)[-1] == (
        "config_update",
        {"resource": "teams", "changes": {"name": ["SRE", "Site reliability"]}},
    )
    unchanged = admin_api.patch(f"{BASE}/teams/sre/", {"name": "Site reliability"}, format="json")
    assert unchanged.status_code == 200 and len(_config_events(team)) == 2  # nothing to audit


def test_bad_input_is_refused_with_field_messages_and_nothing_written(admin_api):
    response = admin_api.post(
        f"{BASE}/services/",
        {"slug": "api", "name": "API", "owner_team": "nobody"},
        format="json",
    )
    assert response.status_code == 400
    assert "owner_team" in response.json()["errors"]
    role = admin_api.post(f"{BASE}/users/", {"username": "x", "roles": ["pope"]}, format="json")
    assert role.status_code == 400 and "roles" in role.json()["errors"]
    assert not Service.objects.filter(slug="api").exists()
    assert admin_api.get(f"{BASE}/teams/no-such-team/").status_code == 404
    assert (
        admin_api.post(f"{BASE}/teams/", ["not", "an", "object"], format="json").status_code == 400
    )


def test_an_escalation_policy_is_written_with_its_levels_as_a_whole(api_as, ops_manager):
    client = api_as(ops_manager)  # the seed gives the escalation ladder to operations
    Team.objects.create(slug="l1", name="L1", escalation_level=1)
    body = {
        "name": "Payments",
        "track": "urgent",
        "levels": [
            {"level": 1, "delay_minutes": 0, "target_team": "l1"},
            {"level": 2, "after_level": 1, "delay_minutes": 15, "target_role": "ops_leader"},
        ],
    }
    created = client.post(f"{BASE}/escalation-policies/", body, format="json")
    assert created.status_code == 201, created.content
    policy = EscalationPolicy.objects.get(name="Payments")
    assert [(lv.level, lv.delay_minutes) for lv in policy.levels.all()] == [(1, 0), (2, 15)]

    body["levels"][1]["delay_minutes"] = 10
    body["levels"].append(
        {"level": 3, "after_level": 2, "delay_minutes": 30, "target_role": "ops_manager"}
    )
    replaced = client.put(f"{BASE}/escalation-policies/Payments/", body, format="json")
    assert replaced.status_code == 200, replaced.content
    assert [(lv.level, lv.delay_minutes) for lv in policy.levels.all()] == [
        (1, 0),
        (2, 10),
        (3, 30),
    ]
    action, data = _config_events(policy)[-1]
    assert action == "config_update" and list(data["changes"]) == ["levels"]

    twice = client.patch(
        f"{BASE}/escalation-policies/Payments/",
        {"levels": [{"level": 1, "delay_minutes": 0}, {"level": 1, "delay_minutes": 5}]},
        format="json",
    )
    assert twice.status_code == 400 and "levels" in twice.json()["errors"]
    assert policy.levels.count() == 3  # the refused write changed nothing


def test_composite_keys_address_the_triage_matrix(api_as, ops_manager):
    client = api_as(ops_manager)
    url = f"{BASE}/triage-matrix/all_users,revenue_loss/"
    assert client.get(url).json()["priority"] == "P1"
    changed = client.patch(url, {"priority": "P2"}, format="json")
    assert changed.status_code == 200, changed.content
    assert (
        TriageRule.objects.get(impact_scope="all_users", business_impact="revenue_loss").priority
        == "P2"
    )
    assert client.patch(url, {"priority": "P9"}, format="json").status_code == 400
    assert client.get(f"{BASE}/triage-matrix/all_users/").status_code == 404


def test_permissions_administrators_and_ops_manager_where_the_seed_says(
    api_as, admin_user, ops_manager, ops_leader, operator
):
    assert api_as(operator).get(f"{BASE}/teams/").status_code == 403
    assert api_as(ops_leader).get(f"{BASE}/escalation-policies/").status_code == 403
    assert api_as(ops_manager).get(f"{BASE}/escalation-policies/").status_code == 200
    # people, teams and integrations are the administrator's
    assert (
        api_as(ops_manager).post(f"{BASE}/users/", {"username": "x"}, format="json").status_code
        == 403
    )
    assert api_as(ops_manager).get(f"{BASE}/integrations/").status_code == 403
    read_only = api_as(admin_user, scope=ApiToken.Scope.READ)
    assert read_only.get(f"{BASE}/teams/").status_code == 200
    assert (
        read_only.post(f"{BASE}/teams/", {"slug": "x", "name": "X"}, format="json").status_code
        == 403
    )
    assert APIClient().get(f"{BASE}/teams/").status_code in (401, 403)


def test_an_integration_shows_its_secret_once_rotates_and_revokes(admin_api):
    created = admin_api.post(
        f"{BASE}/integrations/",
        {
            "name": "Prometheus",
            "kind": "alertmanager",
            "rules": [{"order": 10, "label": "severity", "value": "critical", "priority": "P1"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert created.json()["rules"][0]["priority"] == "P1"
    assert "secret" not in admin_api.get(f"{BASE}/integrations/Prometheus/").json()

    def deliver(token):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.post("/api/v1/integrations/alertmanager/", am_body(am_alert()), format="json")

    assert deliver(secret).status_code == 202
    rotated = admin_api.post(f"{BASE}/integrations/Prometheus/rotate/")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != secret
    assert deliver(secret).status_code == 401
    assert deliver(new_secret).status_code == 202
    assert admin_api.post(f"{BASE}/integrations/Prometheus/revoke/").status_code == 200
    assert deliver(new_secret).status_code == 401
    integration = Integration.objects.get(name="Prometheus")
    assert [a for a, _ in _config_events(integration)] == [
        "create",  # the intake's own event (the secret issued) …
        "config_create",  # … and what the configuration wrote (its settings and rules)
        "rotate_secret",
        "revoke_secret",
    ]


def test_deleting_is_audited_and_refused_while_others_use_the_record(admin_api, ops_leader):
    team = Team.objects.create(slug="sre", name="SRE")
    Service.objects.create(slug="api", name="API", owner_team=team)
    assert admin_api.delete(f"{BASE}/services/api/").status_code == 204
    assert not Service.objects.filter(slug="api").exists()
    event = AuditEvent.objects.filter(action="config_delete").get()
    assert event.data["was"]["slug"] == "api"

    StandardChangeTemplate.objects.create(
        name="Renew TLS", owner=ops_leader, category="maintenance"
    )
    refused = admin_api.delete(f"{BASE}/users/{ops_leader.username}/")
    assert refused.status_code == 400
    assert "Renew TLS" in str(refused.json()["errors"])
    assert AuditEvent.objects.filter(action="config_delete").count() == 1  # rolled back with it


def test_the_openapi_schema_documents_the_configuration_endpoints(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/v1/config/teams/",
        "/api/v1/config/escalation-policies/{key}/",
        "/api/v1/config/integrations/{key}/rotate/",
        "/api/v1/config/backup-policies/",
    ):
        assert path in schema["paths"], path
