"""The change gate for pipelines: ``GET /api/v1/changes/gate/`` (§9.1, §9.3)."""

import pytest
import time_machine
from django.utils import translation

from changes import gate
from changes.models import ChangeRequest
from itsm.core.models import ApiToken
from itsm.core.roles import Role
from tests.backups.factories import BackupJobFactory, BackupPolicyFactory
from tests.factories import ServiceFactory, UserFactory

from .factories import ChangeRequestFactory, FreezeWindowFactory, change_class, jst

pytestmark = pytest.mark.django_db

URL = "/api/v1/changes/gate/"
INSIDE = "2026-06-10T10:30:00+09:00"  # inside the factory's window 10:00–12:00


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(jst(2026, 6, 1, 10), tick=False), translation.override("en"):
        yield


@pytest.fixture
def web():
    return ServiceFactory(slug="web", name="Web shop")


def change_in(state: str, service, *, backup_met: bool = True, **fields) -> ChangeRequest:
    """A change already in ``state`` (the gate only reads states), its pre-change backup waived
    by an ops manager unless ``backup_met`` is false."""
    if backup_met:
        fields.setdefault("backup_waived", True)
        fields.setdefault("backup_waiver_reason", "stateless tier")
        fields.setdefault("backup_waived_by", UserFactory(role=Role.OPS_MANAGER))
    change = ChangeRequestFactory(**fields)
    ChangeRequest.objects.filter(pk=change.pk).update(state=state)
    change.services.add(service)
    return ChangeRequest.objects.get(pk=change.pk)


@pytest.fixture
def pipeline(api_as, make_user):
    return api_as(make_user(Role.DEVELOPER, username="ci"), scope=ApiToken.Scope.READ)


@pytest.mark.parametrize("state", ["approved", "scheduled", "implementing"])
def test_deployment_inside_an_approved_window_is_allowed(pipeline, web, state):
    change = change_in(state, web)
    response = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE})
    assert response.status_code == 200
    body = response.json()
    assert body["allowed"] is True
    assert body["change"] == change.number
    assert body["window"] == {
        "start": "2026-06-10T10:00:00+09:00",
        "end": "2026-06-10T12:00:00+09:00",
    }
    assert "reason" not in body


@pytest.mark.parametrize(
    "state", ["draft", "in_review", "cab_review", "rejected", "verifying", "closed", "cancelled"]
)
def test_changes_not_approved_do_not_open_the_gate(pipeline, web, state):
    change_in(state, web)
    body = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE}).json()
    assert body["allowed"] is False
    assert body["reason"] == "no_approved_change"
    assert "Web shop" in body["detail"]
    assert body["change"] is None


def test_a_change_for_another_service_does_not_open_the_gate(pipeline, web):
    change_in("scheduled", ServiceFactory(slug="api"))
    body = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE}).json()
    assert (body["allowed"], body["reason"]) == (False, "no_approved_change")


def test_outside_the_window_names_the_next_approved_change(pipeline, web):
    change = change_in("scheduled", web)
    body = pipeline.get(
        URL, {"service": "web", "environment": "production", "at": "2026-06-10T12:00:00+09:00"}
    ).json()
    assert (body["allowed"], body["reason"]) == (False, "outside_window")
    assert body["change"] == change.number
    assert "2026-06-10 10:00" in body["detail"]
    early = pipeline.get(
        URL, {"service": "web", "environment": "production", "at": "2026-06-10T09:59:59+09:00"}
    ).json()
    assert early["reason"] == "outside_window"


def test_the_window_start_is_inclusive_and_the_end_exclusive(web):
    change_in("scheduled", web)
    assert gate.change_gate(service=web, environment="production", at=jst(2026, 6, 10, 10)).allowed
    assert not gate.change_gate(
        service=web, environment="production", at=jst(2026, 6, 10, 12)
    ).allowed


def test_without_at_the_gate_uses_now(pipeline, web):
    change_in("implementing", web)
    assert (
        pipeline.get(URL, {"service": "web", "environment": "production"}).json()["reason"]
        == "outside_window"
    )
    with time_machine.travel(jst(2026, 6, 10, 11), tick=False):
        assert pipeline.get(URL, {"service": "web", "environment": "production"}).json()["allowed"]


def test_a_freeze_window_refuses_a_normal_change(pipeline, web):
    change = change_in("scheduled", web)
    FreezeWindowFactory(
        name="Campaign",
        reason="Summer sale",
        starts_at=jst(2026, 6, 10, 9),
        ends_at=jst(2026, 6, 11),
    )
    body = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE}).json()
    assert (body["allowed"], body["reason"]) == (False, "freeze_window")
    assert body["freeze"] == {
        "name": "Campaign",
        "start": "2026-06-10T09:00:00+09:00",
        "end": "2026-06-11T00:00:00+09:00",
        "reason": "Summer sale",
    }
    assert body["change"] == change.number
    assert "Campaign" in body["detail"]


def test_a_freeze_window_refuses_even_without_a_change(pipeline, web):
    FreezeWindowFactory(starts_at=jst(2026, 6, 10, 9), ends_at=jst(2026, 6, 11))
    body = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE}).json()
    assert body["reason"] == "freeze_window"


def test_a_freeze_window_of_another_service_does_not_refuse(pipeline, web):
    change_in("scheduled", web)
    other = FreezeWindowFactory(starts_at=jst(2026, 6, 10, 9), ends_at=jst(2026, 6, 11))
    other.services.add(ServiceFactory(slug="billing"))
    body = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE}).json()
    assert body["allowed"] is True


def test_an_emergency_change_may_deploy_during_a_freeze(pipeline, web):
    change_in("scheduled", web)
    emergency = change_in("implementing", web, change_class=change_class("emergency"))
    FreezeWindowFactory(starts_at=jst(2026, 6, 10, 9), ends_at=jst(2026, 6, 11))
    body = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE}).json()
    assert (body["allowed"], body["change"]) == (True, emergency.number)


@pytest.mark.parametrize("environment", ["development", "testing", "staging", "canary"])
def test_only_production_is_gated(pipeline, web, environment):
    body = pipeline.get(URL, {"service": "web", "environment": environment}).json()
    assert body["allowed"] is True
    assert body["change"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"environment": "production"}, "service"),
        ({"service": "nope", "environment": "production"}, "service"),
        ({"service": "web"}, "environment"),
        ({"service": "web", "environment": "prod"}, "environment"),
        ({"service": "web", "environment": "production", "at": "tomorrow"}, "at"),
        ({"service": "web", "environment": "production", "at": "2026-13-01T00:00"}, "at"),
    ],
)
def test_bad_parameters_are_400_with_field_messages(pipeline, web, params, field):
    response = pipeline.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_naive_time_is_read_in_the_portal_time_zone(pipeline, web):
    change_in("scheduled", web)
    body = pipeline.get(
        URL, {"service": "web", "environment": "production", "at": "2026-06-10T10:30"}
    ).json()
    assert body["allowed"] is True


def test_the_gate_needs_a_token_and_the_view_permission(api_client, api_as, make_user, web):
    assert api_client.get(URL, {"service": "web", "environment": "production"}).status_code == 401
    nobody = make_user(None, username="norole")
    assert (
        api_as(nobody).get(URL, {"service": "web", "environment": "production"}).status_code == 403
    )


# --- §9.4 実施時 1: the pre-change backup comes first ----------------------------------------


@pytest.mark.parametrize("state", ["approved", "scheduled"])
def test_a_change_without_its_pre_change_backup_answers_not_yet(pipeline, web, state):
    change = change_in(state, web, backup_met=False)
    body = pipeline.get(
        URL,
        {"service": "web", "environment": "production", "at": INSIDE},
        HTTP_ACCEPT_LANGUAGE="en",
    ).json()
    assert (body["allowed"], body["reason"]) == (False, "backup_pending")
    assert body["change"] == change.number
    assert body["detail"].startswith(f"Not yet: {change.number}")
    assert "No pre-change backup is recorded yet" in body["detail"]


def test_a_waiver_by_someone_who_may_not_waive_does_not_open_the_gate(web):
    change_in("implementing", web, backup_waived_by=UserFactory(role=Role.OPERATOR))
    decision = gate.change_gate(service=web, environment="production", at=jst(2026, 6, 10, 11))
    assert (decision.allowed, decision.reason) == (False, "backup_pending")
    assert "approver role or an ops manager" in decision.detail


def test_the_gate_reads_the_backup_job_against_the_implementation_start(web):
    policy = BackupPolicyFactory(service=web)
    job = BackupJobFactory(policy=policy, state="succeeded", finished_at=jst(2026, 6, 10, 9))
    change = change_in(
        "implementing",
        web,
        backup_met=False,
        pre_change_backup=job,
        implementation_started_at=jst(2026, 6, 10, 10),
    )
    at = jst(2026, 6, 10, 11)
    assert gate.change_gate(service=web, environment="production", at=at).allowed
    BackupJobFactory._meta.model.objects.filter(pk=job.pk).update(finished_at=jst(2026, 6, 9, 9))
    decision = gate.change_gate(service=web, environment="production", at=at)
    assert (decision.allowed, decision.reason, decision.change) == (False, "backup_pending", change)
    assert "within 24 hours before the start (2026-06-10 10:00)" in decision.detail


def test_a_ready_change_is_preferred_over_one_still_waiting_for_its_backup(web):
    change_in("scheduled", web, backup_met=False)
    ready = change_in("implementing", web)
    decision = gate.change_gate(service=web, environment="production", at=jst(2026, 6, 10, 11))
    assert (decision.allowed, decision.change) == (True, ready)


def test_an_emergency_change_during_a_freeze_still_needs_its_backup(pipeline, web):
    emergency = change_in(
        "scheduled", web, backup_met=False, change_class=change_class("emergency")
    )
    FreezeWindowFactory(starts_at=jst(2026, 6, 10, 9), ends_at=jst(2026, 6, 11))
    body = pipeline.get(URL, {"service": "web", "environment": "production", "at": INSIDE}).json()
    assert (body["allowed"], body["reason"], body["change"]) == (
        False,
        "backup_pending",
        emergency.number,
    )
