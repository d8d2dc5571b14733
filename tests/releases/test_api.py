"""/api/v1/releases/ and /api/v1/deployments/: create, filters, transitions, CI/CD reports."""

import pytest

from itsm.core.models import ApiToken
from releases.models import Deployment, Release

from ..factories import ServiceFactory
from .factories import approved_change, release_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def leader_api(api_as, ops_leader):
    return api_as(ops_leader)


@pytest.fixture
def pipeline(make_user):
    """A CI/CD service account: a developer-role user with a token named after the pipeline."""
    user = make_user("developer", username="ci")
    _token, raw = ApiToken.issue(user, name="github-actions")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def release_payload(**overrides):
    service = ServiceFactory(slug="shop")
    return {
        "name": "Winter",
        "version": "2.0.0",
        "release_type": "hotfix",
        "service": service.slug,
        "strategy": "rolling",
        "strategy_rationale": "Stateless web tier",
        **overrides,
    }


# --------------------------------------------------------------------------- releases


def test_create_a_release_with_idempotency_key(leader_api, ops_leader):
    payload = release_payload()
    first = leader_api.post("/api/v1/releases/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = leader_api.post("/api/v1/releases/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201, first.json()
    assert again.status_code == 201 and again.json()["number"] == first.json()["number"]
    assert Release.objects.count() == 1
    assert first.json()["owner"] == ops_leader.username
    assert first.json()["state"] == "planned"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"release_type": "weekly"}, "release_type"),
        ({"strategy": "big_bang"}, "strategy"),
        ({"service": "no-such-service"}, "service"),
        ({"release_type": "minor"}, "planned_at"),
        ({"changes": ["CHG-999999"]}, "changes"),
        ({"state": "production"}, "state"),
        ({"planned_at": "tomorrow"}, "planned_at"),
        ({"slot": 999999}, "slot"),
    ],
)
def test_bad_release_input_gets_field_errors(leader_api, overrides, field):
    response = leader_api.post("/api/v1/releases/", release_payload(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_operators_may_read_but_not_create_releases(api_as, operator):
    client = api_as(operator)
    assert client.get("/api/v1/releases/").status_code == 200
    assert client.post("/api/v1/releases/", release_payload(), format="json").status_code == 403


def test_list_filters_search_and_ordering(leader_api):
    a = release_in("canary", name="Alpha", version="1.0.0")
    b = release_in("planned", name="Beta", version="2.0.0", release_type="patch")
    rows = leader_api.get("/api/v1/releases/?state=canary").json()["results"]
    assert [r["number"] for r in rows] == [a.number]
    rows = leader_api.get("/api/v1/releases/?release_type=patch").json()["results"]
    assert [r["number"] for r in rows] == [b.number]
    rows = leader_api.get("/api/v1/releases/?search=Beta").json()["results"]
    assert [r["number"] for r in rows] == [b.number]
    rows = leader_api.get("/api/v1/releases/?ordering=number").json()["results"]
    assert [r["number"] for r in rows] == [a.number, b.number]
    assert leader_api.get("/api/v1/releases/?state=nonsense").status_code == 400


def test_patch_edits_the_plan_but_never_the_state(leader_api):
    release = release_in("planned")
    url = f"/api/v1/releases/{release.number}/"
    ok = leader_api.patch(url, {"notes": "Freeze check done"}, format="json")
    assert ok.status_code == 200 and ok.json()["notes"] == "Freeze check done"
    refused = leader_api.patch(url, {"state": "completed"}, format="json")
    assert refused.status_code == 400
    fixed = leader_api.patch(url, {"release_type": "major"}, format="json")
    assert fixed.status_code == 400 and "release_type" in fixed.json()["errors"]


def test_transitions_through_the_api_report_the_production_guard(leader_api):
    release = release_in("canary")
    url = f"/api/v1/releases/{release.number}/transitions/"
    listed = {t["name"]: t for t in leader_api.get(url).json()}
    assert listed["promote_to_production"]["available"] is False
    response = leader_api.post(url, {"transition": "promote_to_production"}, format="json")
    assert response.status_code == 400
    assert response.json()["guard"] == "has_approved_change_covering_now"
    approved_change(release)
    response = leader_api.post(url, {"transition": "promote_to_production"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "production"


def test_a_change_for_another_service_is_refused_with_the_gate_answer(leader_api):
    release = release_in("canary", service=ServiceFactory(slug="web", name="Web shop"))
    approved_change(release, service=ServiceFactory(slug="billing"))
    url = f"/api/v1/releases/{release.number}/transitions/"
    response = leader_api.post(
        url, {"transition": "promote_to_production"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["guard"]) == ("guard_failed", "has_approved_change_covering_now")
    assert body["detail"].startswith("No approved change covers Web shop.")
    assert Release.objects.get(pk=release.pk).state == "canary"


def test_roll_back_through_the_api_needs_a_reason_and_records_the_rollback(leader_api):
    release = release_in("canary")
    url = f"/api/v1/releases/{release.number}/transitions/"
    assert leader_api.post(url, {"transition": "roll_back"}, format="json").status_code == 400
    response = leader_api.post(url, {"transition": "roll_back", "comment": "5xx"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "rolled_back"
    assert Deployment.objects.get(release=release).result == "rolled_back"


def test_dora_inputs(leader_api, pipeline):
    release = release_in("canary")
    approved_change(release)
    pipeline.post(
        "/api/v1/deployments/",
        {
            "release": release.number,
            "environment": "production",
            "version": release.version,
            "result": "succeeded",
            "commits": [{"sha": "abc1234", "committed_at": "2020-01-01T00:00:00Z"}],
        },
        format="json",
    )
    data = leader_api.get(f"/api/v1/releases/dora/?service={release.service.slug}").json()
    assert data["production_deployments"] == 1
    assert data["change_failure_rate"] == 0
    assert data["lead_time_samples"] == 1 and data["lead_time_hours_median"] > 24 * 365
    assert leader_api.get("/api/v1/releases/dora/?days=0").status_code == 400


# --------------------------------------------------------------------------- deployments


def report(rel, **overrides):
    return {
        "release": rel.number,
        "environment": "testing",
        "version": rel.version,
        "result": "succeeded",
        "external_id": "gh-run-1001",
        "external_url": "https://ci.example.com/runs/1001",
        "commit_sha": "0123abcd",
        **overrides,
    }


def test_a_pipeline_reports_a_deployment_and_the_release_moves_on(pipeline):
    release = release_in("development")
    response = pipeline.post("/api/v1/deployments/", report(release), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["release_state"] == "testing" and body["release_advanced"] is True
    assert body["reported_via"] == "github-actions" and body["reported_by"] == "ci"


def test_a_repeated_pipeline_report_is_not_duplicated(pipeline):
    release = release_in("development")
    first = pipeline.post("/api/v1/deployments/", report(release), format="json")
    second = pipeline.post("/api/v1/deployments/", report(release), format="json")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Deployment.objects.count() == 1


def test_production_deployment_without_approved_change_is_409(pipeline):
    release = release_in("canary")
    response = pipeline.post(
        "/api/v1/deployments/", report(release, environment="production"), format="json"
    )
    assert response.status_code == 409
    assert response.json()["guard"] == "has_approved_change_covering_now"
    assert not Deployment.objects.exists()


def test_production_deployment_with_approved_change_promotes(pipeline):
    release = release_in("canary")
    approved_change(release, state="implementing")
    response = pipeline.post(
        "/api/v1/deployments/", report(release, environment="production"), format="json"
    )
    assert response.status_code == 201 and response.json()["release_state"] == "production"


def test_a_production_deployment_before_the_change_backup_is_refused_not_yet(pipeline):
    release = release_in("canary")
    change = approved_change(release, state="scheduled", waived=False)
    response = pipeline.post(
        "/api/v1/deployments/",
        report(release, environment="production"),
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["guard"] == "has_approved_change_covering_now"
    assert body["detail"].startswith(f"Not yet: {change.number}")
    assert not Deployment.objects.exists()


def test_a_failed_deployment_is_recorded_only(pipeline):
    release = release_in("development")
    response = pipeline.post(
        "/api/v1/deployments/", report(release, result="failed"), format="json"
    )
    assert response.status_code == 201
    assert response.json()["release_state"] == "development"
    assert response.json()["release_advanced"] is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"release": "REL-999999"}, "release"),
        ({"environment": "qa"}, "environment"),
        ({"result": "success!"}, "result"),
        ({"version": ""}, "version"),
        ({"external_url": "not a url"}, "external_url"),
        ({"commit_sha": "zzz; rm -rf"}, "commit_sha"),
        ({"started_at": "yesterday"}, "started_at"),
        (
            {"started_at": "2025-01-02T10:00:00Z", "finished_at": "2025-01-02T09:00:00Z"},
            "finished_at",
        ),
        ({"commits": [{"sha": "abc1234"}]}, "commits"),
        ({"commits": "abc"}, "commits"),
        ({"status": "done"}, "status"),
        ({"result": "succeeded", "status": "failure"}, "status"),
        ({"log_url": "ftp:/nowhere"}, "log_url"),
        ({"repository_url": "git@github.com:x/y"}, "repository_url"),
        ({"rollback_of": "no-such-run"}, "rollback_of"),
        ({"release": "", "service": "no-such-service"}, "service"),
        ({"release": ""}, "release"),
    ],
)
def test_bad_deployment_input_is_a_400_with_field_messages(pipeline, overrides, field):
    release = release_in("development")
    response = pipeline.post("/api/v1/deployments/", report(release, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_non_object_body_is_a_400(pipeline):
    response = pipeline.post("/api/v1/deployments/", ["x"], format="json")
    assert response.status_code == 400


def test_deployments_need_a_token_with_write_scope_and_the_permission(api_as, make_user):
    release = release_in("development")
    from rest_framework.test import APIClient

    assert (
        APIClient().post("/api/v1/deployments/", report(release), format="json").status_code == 401
    )
    reader = api_as(make_user("developer", username="reader"), scope=ApiToken.Scope.READ)
    assert reader.post("/api/v1/deployments/", report(release), format="json").status_code == 403
    operator = api_as(make_user("operator", username="op2"))
    assert operator.post("/api/v1/deployments/", report(release), format="json").status_code == 403
    assert not Deployment.objects.exists()


def test_deployment_list_filters(pipeline, leader_api):
    release = release_in("development")
    pipeline.post("/api/v1/deployments/", report(release), format="json")
    rows = leader_api.get(f"/api/v1/deployments/?release={release.number}&environment=testing")
    assert rows.json()["count"] == 1
    assert leader_api.get("/api/v1/deployments/?environment=qa").status_code == 400


def test_environments_and_slots_are_listed(leader_api):
    envs = leader_api.get("/api/v1/environments/").json()
    assert [e["code"] for e in envs][:2] == ["development", "testing"]
    assert leader_api.get("/api/v1/release-slots/").status_code == 200


def test_a_finish_time_without_start_time_is_accepted(pipeline):
    release = release_in("development")
    response = pipeline.post(
        "/api/v1/deployments/",
        report(release, finished_at="2025-01-02T09:00:00Z", result="failed"),
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["started_at"] == response.json()["finished_at"]


# --------------------------------------------------------------------------- status vocabulary


def status_report(rel, **overrides):
    body = report(rel, **overrides)
    body.pop("result", None) if "result" not in overrides else None
    body.setdefault("status", "success")
    return body


def test_a_report_without_status_or_result_is_a_400(pipeline):
    release = release_in("development")
    body = report(release)
    del body["result"]
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_status_success_advances_and_is_reported_in_both_vocabularies(pipeline):
    release = release_in("development")
    response = pipeline.post("/api/v1/deployments/", status_report(release), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["result"]) == ("success", "succeeded")
    assert body["release_state"] == "testing"


def test_a_run_reports_queued_then_in_progress_then_success_on_one_row(pipeline):
    release = release_in("development")
    queued = pipeline.post(
        "/api/v1/deployments/", status_report(release, status="queued"), format="json"
    )
    assert queued.status_code == 201
    assert queued.json()["finished_at"] is None and queued.json()["release_advanced"] is False
    running = pipeline.post(
        "/api/v1/deployments/", status_report(release, status="in_progress"), format="json"
    )
    assert running.status_code == 200 and running.json()["status"] == "in_progress"
    release.refresh_from_db()
    assert release.state == "development"
    done = pipeline.post("/api/v1/deployments/", status_report(release), format="json")
    assert done.json()["status"] == "success" and done.json()["release_state"] == "testing"
    assert done.json()["finished_at"] is not None
    assert Deployment.objects.count() == 1


def test_a_late_interim_report_does_not_overwrite_the_final_status(pipeline):
    release = release_in("development")
    pipeline.post("/api/v1/deployments/", status_report(release), format="json")
    late = pipeline.post(
        "/api/v1/deployments/", status_report(release, status="in_progress"), format="json"
    )
    assert late.status_code == 200 and late.json()["status"] == "success"


def test_failure_status_is_recorded_as_failed(pipeline):
    release = release_in("testing")
    response = pipeline.post(
        "/api/v1/deployments/",
        status_report(release, environment="staging", status="failure"),
        format="json",
    )
    assert response.json()["result"] == "failed" and response.json()["release_state"] == "testing"


def test_an_in_progress_production_deployment_without_approved_change_is_409(pipeline):
    release = release_in("canary")
    response = pipeline.post(
        "/api/v1/deployments/",
        status_report(release, environment="production", status="in_progress"),
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["guard"] == "has_approved_change_covering_now"
    assert not Deployment.objects.exists()


def test_an_in_progress_production_deployment_with_approved_change_waits_for_success(pipeline):
    release = release_in("canary")
    approved_change(release)
    running = pipeline.post(
        "/api/v1/deployments/",
        status_report(release, environment="production", status="in_progress"),
        format="json",
    )
    assert running.status_code == 201 and running.json()["release_state"] == "canary"
    done = pipeline.post(
        "/api/v1/deployments/", status_report(release, environment="production"), format="json"
    )
    assert done.status_code == 200 and done.json()["release_state"] == "production"


def test_the_release_can_be_named_by_service_and_version(pipeline):
    release = release_in("development", version="3.1.0")
    body = status_report(release, version="3.1.0")
    body["release"] = ""
    body["service"] = release.service.slug
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["release"] == release.number


def test_an_unknown_version_of_a_service_is_a_400(pipeline):
    release = release_in("development", version="3.1.0")
    body = status_report(release, version="9.9.9", service=release.service.slug)
    del body["release"]
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400 and "release" in response.json()["errors"]


def test_two_open_releases_with_the_same_version_are_ambiguous(pipeline):
    release = release_in("development", version="3.1.0")
    release_in("testing", version="3.1.0", service=release.service)
    body = status_report(release, version="3.1.0", service=release.service.slug)
    del body["release"]
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400 and "release" in response.json()["errors"]


def test_a_release_number_of_another_service_is_a_400(pipeline):
    release = release_in("development")
    other = ServiceFactory(slug="other")
    response = pipeline.post(
        "/api/v1/deployments/", status_report(release, service=other.slug), format="json"
    )
    assert response.status_code == 400 and "service" in response.json()["errors"]


def test_repository_and_log_urls_are_stored(pipeline):
    release = release_in("development")
    response = pipeline.post(
        "/api/v1/deployments/",
        status_report(
            release,
            repository_url="https://github.com/acme/shop",
            log_url="https://ci.example.com/runs/1001/logs",
        ),
        format="json",
    )
    deployment = Deployment.objects.get(pk=response.json()["id"])
    assert deployment.repository_url == "https://github.com/acme/shop"
    assert deployment.log_url == "https://ci.example.com/runs/1001/logs"


def test_deployments_filter_by_status(pipeline, leader_api):
    release = release_in("development")
    pipeline.post("/api/v1/deployments/", status_report(release, status="queued"), format="json")
    assert leader_api.get("/api/v1/deployments/?status=queued").json()["count"] == 1
    assert leader_api.get("/api/v1/deployments/?status=success").json()["count"] == 0
    assert leader_api.get("/api/v1/deployments/?status=nope").status_code == 400


# --------------------------------------------------------------------------- rollbacks


@pytest.fixture
def in_production(pipeline):
    release = release_in("canary")
    approved_change(release)
    response = pipeline.post(
        "/api/v1/deployments/",
        status_report(release, environment="production", external_id="run-prod-1"),
        format="json",
    )
    assert response.json()["release_state"] == "production"
    return release, response.json()["id"]


@pytest.mark.parametrize("by", ["external_id", "id"])
def test_a_successful_rollback_run_rolls_the_release_back(pipeline, in_production, by):
    release, original_id = in_production
    reference = "run-prod-1" if by == "external_id" else str(original_id)
    body = status_report(
        release, environment="production", external_id="run-prod-2", rollback_of=reference
    )
    del body["release"]  # the rolled back deployment names the release
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["rollback_of"] == original_id
    assert response.json()["release_state"] == "rolled_back"
    assert Deployment.objects.get(pk=original_id).result == "rolled_back"


def test_an_in_progress_rollback_changes_nothing_yet(pipeline, in_production):
    release, original_id = in_production
    body = status_report(
        release,
        environment="production",
        external_id="run-prod-2",
        rollback_of="run-prod-1",
        status="in_progress",
    )
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 201 and response.json()["release_state"] == "production"
    assert Deployment.objects.get(pk=original_id).result == "succeeded"


@pytest.mark.parametrize(
    "overrides",
    [
        {"environment": "canary"},  # another environment
        {"external_id": "run-prod-1"},  # itself
    ],
)
def test_a_rollback_of_an_unrelated_deployment_is_a_400(pipeline, in_production, overrides):
    release, _original = in_production
    body = status_report(
        release, environment="production", external_id="run-prod-2", rollback_of="run-prod-1"
    )
    body.update(overrides)
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "rollback_of" in response.json()["errors"]


def test_a_rollback_reported_on_another_release_is_a_400(pipeline, in_production):
    _release, _original = in_production
    other = release_in("production")
    body = status_report(
        other, environment="production", external_id="run-prod-2", rollback_of="run-prod-1"
    )
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400 and "rollback_of" in response.json()["errors"]


def test_interim_production_reports_are_not_counted_as_deployments(pipeline, leader_api):
    release = release_in("production")
    pipeline.post(
        "/api/v1/deployments/",
        status_report(release, environment="production", status="queued"),
        format="json",
    )
    data = leader_api.get("/api/v1/releases/dora/").json()
    assert data["production_deployments"] == 0
