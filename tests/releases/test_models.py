"""The release state machine: production guard, canary skip rule, NG paths (seed §10.3)."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from changes.gate import change_gate
from itsm.core import workflow
from releases.choices import Strategy
from releases.models import Environment, Release, ReleaseCadence, has_approved_change_covering_now

from ..changes.factories import FreezeWindowFactory, change_class
from ..factories import ServiceFactory
from .factories import approved_change, release_in

pytestmark = pytest.mark.django_db


def test_the_five_environments_and_their_roles_are_seeded_in_order():
    codes = list(Environment.objects.values_list("code", flat=True))
    assert codes == ["development", "testing", "staging", "canary", "production"]
    assert Environment.objects.get(code="staging").role.startswith("Final check")


def test_the_cadence_of_section_10_2_is_seeded():
    table = dict(ReleaseCadence.objects.values_list("release_type", "frequency"))
    assert table == {
        "major": "quarterly",
        "minor": "monthly",
        "patch": "weekly",
        "hotfix": "any_time",
    }


@pytest.mark.parametrize("state", ["approved", "scheduled", "implementing"])
def test_production_guard_passes_with_an_authorising_change_covering_now(state):
    release = release_in("canary")
    approved_change(release, state=state)
    assert has_approved_change_covering_now(release)


@pytest.mark.parametrize(
    "state", ["draft", "submitted", "in_review", "rejected", "verifying", "closed", "cancelled"]
)
def test_production_guard_fails_when_the_change_is_not_approved(state):
    release = release_in("canary")
    approved_change(release, state=state)
    assert not has_approved_change_covering_now(release)


def test_production_guard_fails_without_any_linked_change():
    assert not has_approved_change_covering_now(release_in("canary"))


def test_production_guard_fails_when_the_window_is_over_or_not_yet_open():
    now = timezone.now()
    release = release_in("canary")
    approved_change(release, start=now - dt.timedelta(hours=3), end=now - dt.timedelta(hours=1))
    approved_change(release, start=now + dt.timedelta(hours=1), end=now + dt.timedelta(hours=3))
    assert not has_approved_change_covering_now(release)


# --- one rule with the pipeline change gate (changes.gate.change_gate) -----------------------

NOW = dt.datetime(2026, 6, 10, 11, tzinfo=dt.timezone(dt.timedelta(hours=9)))


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def gate_allows(release) -> bool:
    return change_gate(
        service=release.service, environment="production", at=NOW, among=release.changes.all()
    ).allowed


def test_a_change_for_another_service_does_not_open_production(frozen):
    release = release_in("canary")
    change = approved_change(release, service=ServiceFactory(slug="billing"))
    assert not has_approved_change_covering_now(release)
    assert not gate_allows(release)
    change.services.add(release.service)
    assert has_approved_change_covering_now(release) and gate_allows(release)


@pytest.mark.parametrize("state", ["approved", "scheduled"])
def test_a_change_without_its_pre_change_backup_does_not_open_production_yet(frozen, state):
    release = release_in("canary")
    change = approved_change(release, state=state, waived=False)
    assert not has_approved_change_covering_now(release)
    decision = release.production_decision()
    assert (decision.allowed, decision.reason, decision.change) == (False, "backup_pending", change)


def test_a_freeze_window_closes_production_except_for_an_emergency_change(frozen):
    release = release_in("canary")
    approved_change(release)
    FreezeWindowFactory(starts_at=NOW - dt.timedelta(hours=2), ends_at=NOW + dt.timedelta(days=1))
    assert not has_approved_change_covering_now(release)
    assert release.production_decision().reason == "freeze_window"
    emergency = approved_change(release, change_class=change_class("emergency"))
    assert has_approved_change_covering_now(release)
    assert release.authorising_changes() == [emergency]


def test_only_the_changes_linked_to_the_release_count(frozen):
    release = release_in("canary")
    approved_change(service=release.service)  # covers the service, but not linked
    assert not has_approved_change_covering_now(release)
    assert not gate_allows(release)
    assert change_gate(service=release.service, environment="production", at=NOW).allowed


def test_promotion_to_production_without_approved_change_names_the_guard(ops_leader):
    release = release_in("canary")
    with pytest.raises(workflow.GuardFailed) as exc:
        workflow.apply_transition(release, "promote_to_production", actor=ops_leader)
    assert exc.value.extra["guard"] == "has_approved_change_covering_now"
    release.refresh_from_db()
    assert release.state == "canary"


def test_promotion_to_production_with_approved_change_records_the_time(ops_leader):
    release = release_in("canary")
    approved_change(release)
    workflow.apply_transition(release, "promote_to_production", actor=ops_leader)
    release.refresh_from_db()
    assert release.state == "production"
    assert release.production_at is not None
    assert not release.canary_skipped


@pytest.mark.parametrize("strategy", [Strategy.BLUE_GREEN, Strategy.ROLLING])
def test_a_non_canary_release_may_skip_canary_and_the_skip_is_recorded(ops_leader, strategy):
    release = release_in("staging", strategy=strategy)
    approved_change(release)
    workflow.apply_transition(release, "skip_canary", actor=ops_leader)
    release.refresh_from_db()
    assert release.state == "production"
    assert release.canary_skipped


def test_a_canary_release_cannot_skip_canary(ops_leader):
    release = release_in("staging", strategy=Strategy.CANARY)
    approved_change(release)
    with pytest.raises(workflow.GuardFailed) as exc:
        workflow.apply_transition(release, "skip_canary", actor=ops_leader)
    assert exc.value.extra["guard"] == "strategy_is_not_canary"


def test_skipping_canary_still_needs_the_approved_change(ops_leader):
    release = release_in("staging", strategy=Strategy.ROLLING)
    with pytest.raises(workflow.GuardFailed) as exc:
        workflow.apply_transition(release, "skip_canary", actor=ops_leader)
    assert exc.value.extra["guard"] == "has_approved_change_covering_now"


@pytest.mark.parametrize(
    ("state", "name", "counter"),
    [
        ("testing", "fail_testing", "testing_failures"),
        ("staging", "fail_staging", "staging_failures"),
    ],
)
def test_ng_in_testing_or_staging_goes_back_to_development_and_is_counted(
    ops_leader, state, name, counter
):
    release = release_in(state)
    workflow.apply_transition(release, name, actor=ops_leader, comment="integration tests red")
    release.refresh_from_db()
    assert release.state == "development"
    assert getattr(release, counter) == 1


@pytest.mark.parametrize("name", ["fail_testing", "fail_staging", "roll_back"])
def test_ng_transitions_need_a_reason(ops_leader, name):
    state = {"fail_testing": "testing", "fail_staging": "staging", "roll_back": "canary"}[name]
    release = release_in(state)
    with pytest.raises(workflow.TransitionInvalid):
        workflow.apply_transition(release, name, actor=ops_leader, comment="  ")
    release.refresh_from_db()
    assert release.state == state


def test_canary_cannot_go_back_to_development():
    release = release_in("canary")
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.apply_transition(release, "fail_staging", actor=None, comment="x")


def test_production_is_unreachable_from_testing(ops_leader):
    release = release_in("testing", strategy=Strategy.ROLLING)
    approved_change(release)
    for name in ("promote_to_production", "skip_canary"):
        with pytest.raises(workflow.TransitionNotAllowed):
            workflow.apply_transition(release, name, actor=ops_leader)


def test_release_numbers_are_readable():
    release = release_in("planned")
    assert release.number.startswith("REL-") and len(release.number) == 10
    assert Release.objects.get(number=release.number) == release
