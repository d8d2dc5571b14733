"""HTML forms: plan a restore test (operators) and record a DR drill (leaders and above)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupPolicy, DRDrill, DRScenario, RestoreTest
from itsm.core.models import AuditEvent

from .factories import RestoreTestFactory

pytestmark = pytest.mark.django_db

PLAN = "/backups/restore-tests/new/"
DRILL = "/backups/dr/drills/new/"


@pytest.fixture
def policy():
    return BackupPolicy.objects.get(slug="database")


@pytest.fixture
def scenario():
    return DRScenario.objects.order_by("id").first()


def _as(client, user):
    client.force_login(user)
    return client


def _plan(chosen, **overrides):
    data = {
        "policy": chosen.pk,
        "due_on": (timezone.localdate() + timedelta(days=10)).isoformat(),
        "target": "",
        "success_criteria": "",
    }
    return {**data, **overrides}


# --- plan a restore test ----------------------------------------------------------------------


def test_operator_plans_a_restore_test_with_the_policy_defaults(client, operator, policy):
    c = _as(client, operator)
    form = c.get(f"{PLAN}?policy=database")
    assert form.status_code == 200
    assert f'<option value="{policy.pk}" selected>' in form.content.decode()
    response = c.post(PLAN, _plan(policy))
    test = RestoreTest.objects.latest("id")
    assert response.status_code == 302 and response["Location"] == test.get_absolute_url()
    assert test.policy == policy and test.state == RestoreTest.State.PLANNED
    assert policy.name in test.target and str(policy.rto_minutes) in test.success_criteria
    event = AuditEvent.objects.get(action="planned", object_id=str(test.pk))
    assert event.actor == operator


def test_the_typed_target_and_criteria_are_kept(client, operator, policy):
    _as(client, operator).post(
        PLAN, _plan(policy, target="orders DB into staging", success_criteria="row counts match")
    )
    test = RestoreTest.objects.latest("id")
    assert (test.target, test.success_criteria) == ("orders DB into staging", "row counts match")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"due_on": "2020-01-01"}, "due_on"),
        ({"due_on": "not a date"}, "due_on"),
        ({"due_on": ""}, "due_on"),
        ({"due_on": (timezone.localdate() + timedelta(days=800)).isoformat()}, "due_on"),
        ({"policy": "999999"}, "policy"),
        ({"policy": "abc"}, "policy"),
        ({"target": "x" * 201}, "target"),
    ],
)
def test_bad_plan_input_is_a_form_error(client, operator, policy, overrides, field):
    before = RestoreTest.objects.count()
    response = _as(client, operator).post(PLAN, _plan(policy, **overrides))
    assert response.status_code == 400
    assert f'data-error-for="{field}"' in response.content.decode()
    assert RestoreTest.objects.count() == before


def test_an_inactive_policy_cannot_be_planned(client, operator, policy):
    policy.is_active = False
    policy.save()
    response = _as(client, operator).post(PLAN, _plan(policy))
    assert response.status_code == 400


def test_the_same_test_is_not_planned_twice(client, operator, policy):
    due = timezone.localdate() + timedelta(days=10)
    existing = RestoreTestFactory(policy=policy, due_on=due)
    response = _as(client, operator).post(PLAN, _plan(policy, due_on=due.isoformat()))
    assert response.status_code == 400
    assert existing.number in response.content.decode()


def test_planning_needs_the_add_permission(client, make_user, policy):
    developer = make_user("developer", username="dev")  # may read backups, not plan tests
    c = _as(client, developer)
    assert c.get(PLAN).status_code == 403
    assert c.post(PLAN, _plan(policy)).status_code == 403
    html = c.get("/backups/restore-tests/").content.decode()
    assert 'data-testid="plan-restore-test"' not in html


def test_the_restore_tests_page_offers_planning_to_operators(client, operator):
    html = _as(client, operator).get("/backups/restore-tests/").content.decode()
    assert 'data-testid="plan-restore-test"' in html


# --- record a DR drill --------------------------------------------------------------------------


def _drill(chosen, **overrides):
    data = {
        "scenario": chosen.pk,
        "held_on": timezone.localdate().isoformat(),
        "result": "passed",
        "measured_minutes": "45",
        "findings": "",
    }
    return {**data, **overrides}


def test_leader_records_a_drill(client, ops_leader, scenario):
    c = _as(client, ops_leader)
    form = c.get(f"{DRILL}?scenario={scenario.pk}")
    assert form.status_code == 200
    assert f'<option value="{scenario.pk}" selected>' in form.content.decode()
    response = c.post(DRILL, _drill(scenario, findings="  runbook step 3 unclear  "))
    assert response.status_code == 302
    assert response["Location"] == f"/backups/dr/#scenario-{scenario.pk}"
    drill = DRDrill.objects.get()
    assert drill.conducted_by == ops_leader and drill.measured_minutes == 45
    assert drill.findings == "runbook step 3 unclear"
    assert AuditEvent.objects.filter(action="recorded", object_id=str(drill.pk)).exists()
    html = c.get("/backups/dr/").content.decode()
    assert "runbook step 3 unclear" in html and f'id="scenario-{scenario.pk}"' in html


def test_a_failed_drill_needs_findings_but_no_time(client, ops_leader, scenario):
    c = _as(client, ops_leader)
    response = c.post(DRILL, _drill(scenario, result="failed", measured_minutes=""))
    assert response.status_code == 400
    assert 'data-error-for="findings"' in response.content.decode()
    ok = c.post(DRILL, _drill(scenario, result="failed", measured_minutes="", findings="DNS"))
    assert ok.status_code == 302 and DRDrill.objects.get().measured_minutes is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"held_on": (timezone.localdate() + timedelta(days=1)).isoformat()}, "held_on"),
        ({"held_on": "31/02/2026"}, "held_on"),
        ({"measured_minutes": ""}, "measured_minutes"),
        ({"measured_minutes": "-5"}, "measured_minutes"),
        ({"measured_minutes": "ten"}, "measured_minutes"),
        ({"result": "maybe"}, "result"),
        ({"result": "partial"}, "findings"),
        ({"scenario": "999999"}, "scenario"),
    ],
)
def test_bad_drill_input_is_a_form_error(client, ops_leader, scenario, overrides, field):
    response = _as(client, ops_leader).post(DRILL, _drill(scenario, **overrides))
    assert response.status_code == 400
    assert f'data-error-for="{field}"' in response.content.decode()
    assert not DRDrill.objects.exists()


def test_operators_cannot_record_drills(client, operator, scenario):
    c = _as(client, operator)
    assert c.get(DRILL).status_code == 403
    assert c.post(DRILL, _drill(scenario)).status_code == 403
    assert 'data-testid="record-drill"' not in c.get("/backups/dr/").content.decode()
    assert not DRDrill.objects.exists()


def test_forms_require_login(client):
    assert client.get(PLAN).status_code == 302
    assert client.get(DRILL).status_code == 302
