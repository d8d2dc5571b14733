import pytest
from django.utils import timezone

from backups.models import BackupJob, RestoreTest

from .factories import BackupPolicyFactory, RestoreTestFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db
JOBS = "/api/v1/backup-jobs/"


@pytest.fixture
def tool(make_user, api_as):
    """A backup tool's service account (operator role) with a write token."""
    return api_as(make_user("operator", username="restic-bot"))


def test_policies_list_shows_compliance(tool):
    response = tool.get("/api/v1/backup-policies/")
    assert response.status_code == 200
    rows = {row["slug"]: row for row in response.json()["results"]}
    assert rows["database"]["three_two_one"] == {"ok": True, "reasons": []}
    assert rows["database"]["rpo_minutes"] == 360
    assert rows["logs"]["three_two_one"]["ok"] is False


def test_tool_reports_start_and_finish_of_one_run(tool):
    policy = BackupPolicyFactory()
    loc = StorageLocationFactory(name="nas-1")
    start = tool.post(
        JOBS,
        {
            "policy": policy.slug,
            "status": "running",
            "external_id": "r-1",
            "started_at": "2026-05-01T00:00:00+09:00",
        },
        format="json",
    )
    assert start.status_code == 201, start.json()
    assert start.json()["state"] == "running"
    finish = tool.post(
        JOBS,
        {
            "policy": policy.slug,
            "status": "succeeded",
            "external_id": "r-1",
            "finished_at": "2026-05-01T01:30:00+09:00",
            "size_bytes": 2048,
            "checksum": "sha256:00ff",
            "locations": ["nas-1"],
        },
        format="json",
    )
    assert finish.status_code == 200
    body = finish.json()
    assert body["number"] == start.json()["number"]
    assert (body["state"], body["size_bytes"], body["duration_seconds"]) == (
        "succeeded",
        2048,
        5400,
    )
    assert body["locations"] == [loc.name]
    assert BackupJob.objects.filter(policy=policy).count() == 1


def test_idempotency_key_replays_the_first_response(tool):
    policy = BackupPolicyFactory()
    payload = {"policy": policy.slug, "status": "running"}
    first = tool.post(JOBS, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = tool.post(JOBS, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"]
    assert BackupJob.objects.filter(policy=policy).count() == 1


def test_job_transitions_through_the_api(tool):
    policy = BackupPolicyFactory()
    number = tool.post(JOBS, {"policy": policy.slug}, format="json").json()["number"]
    url = f"{JOBS}{number}/transitions/"
    names = [t["name"] for t in tool.get(url).json()]
    assert "succeed" in names and "expire" not in names
    r = tool.post(
        url, {"transition": "succeed", "size_bytes": 10, "checksum": "sha256:1"}, format="json"
    )
    assert r.status_code == 200 and r.json()["state"] == "succeeded"
    policy.refresh_from_db()
    assert policy.last_success_at is not None  # the registered service ran
    assert tool.post(url, {"transition": "verify"}, format="json").json()["state"] == "verified"
    again = tool.post(url, {"transition": "start"}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"policy": "nope"}, "policy"),
        ({"status": "running"}, "policy"),
        ({"status": "exploded"}, "status"),
        ({"status": "failed"}, "error"),
        ({"size_bytes": -1}, "size_bytes"),
        ({"size_bytes": "big"}, "size_bytes"),
        ({"started_at": "yesterday"}, "started_at"),
        (
            {"started_at": "2026-05-01T02:00:00Z", "finished_at": "2026-05-01T01:00:00Z"},
            "finished_at",
        ),
        ({"status": "succeeded", "finished_at": "2099-01-01T00:00:00Z"}, "finished_at"),
        ({"locations": ["nowhere"]}, "locations"),
        ({"state": "succeeded"}, "state"),
        ({"kind": "weekly"}, "kind"),
    ],
)
def test_bad_reports_get_a_400_naming_the_field(tool, payload, field):
    policy = BackupPolicyFactory()
    body = (
        {"policy": policy.slug, **payload}
        if "policy" not in payload and field != "policy"
        else payload
    )
    response = tool.post(JOBS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_non_object_body_is_a_400(tool):
    assert tool.post(JOBS, [1, 2], format="json").status_code == 400


def test_reading_needs_a_token_and_writing_needs_the_role(api_client, make_user, api_as):
    assert api_client.get(JOBS).status_code in (401, 403)
    nobody = api_as(make_user(None, username="nobody"))
    assert nobody.get(JOBS).status_code == 403
    policy = BackupPolicyFactory()
    executive = api_as(make_user("executive", username="exec"))
    assert executive.get(JOBS).status_code == 200
    assert executive.post(JOBS, {"policy": policy.slug}, format="json").status_code == 403


def test_read_token_cannot_report(make_user, api_as):
    from itsm.core.models import ApiToken

    client = api_as(make_user("operator", username="ro"), scope=ApiToken.Scope.READ)
    policy = BackupPolicyFactory()
    assert client.post(JOBS, {"policy": policy.slug}, format="json").status_code == 403


def test_restore_test_plan_and_record_through_the_api(tool):
    policy = BackupPolicyFactory(rto_minutes=240)
    created = tool.post(
        "/api/v1/restore-tests/",
        {
            "policy": policy.slug,
            "due_on": str(timezone.localdate()),
            "target": "DB",
            "success_criteria": "counts match",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = f"/api/v1/restore-tests/{created.json()['number']}/transitions/"
    blocked = tool.post(url, {"transition": "pass_test"}, format="json")
    assert blocked.status_code == 400 and blocked.json()["guard"] == "has_restore_minutes"
    done = tool.post(url, {"transition": "pass_test", "restore_minutes": 200}, format="json")
    assert done.status_code == 200
    assert done.json()["within_rto"] is True
    assert RestoreTest.objects.filter(policy=policy, state="planned").count() == 1


def test_restore_test_bad_input(tool):
    r = tool.post("/api/v1/restore-tests/", {"policy": "x", "due_on": "soon"}, format="json")
    assert r.status_code == 400
    assert {"policy", "due_on", "target", "success_criteria"} <= set(r.json()["errors"])


def test_failing_a_restore_test_needs_a_reason(tool):
    test = RestoreTestFactory()
    url = f"/api/v1/restore-tests/{test.number}/transitions/"
    r = tool.post(url, {"transition": "fail_test", "restore_minutes": 999}, format="json")
    assert r.status_code == 400
    r = tool.post(
        url,
        {"transition": "fail_test", "restore_minutes": 999, "comment": "checksum mismatch"},
        format="json",
    )
    assert r.status_code == 200 and r.json()["state"] == "failed"
