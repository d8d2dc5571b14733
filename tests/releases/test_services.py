"""Release use cases: create, promote, NG paths, rollback, deployments, slot generation."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from itsm.core import workflow
from itsm.core.audit import events_for
from releases import services
from releases.choices import Strategy
from releases.models import Deployment, Environment, ReleaseCadence, ReleaseSlot

from ..factories import ServiceFactory
from .factories import approved_change, release_in

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


def env(code):
    return Environment.objects.get(code=code)


# --------------------------------------------------------------------------- create


def test_create_release_for_a_slot_takes_the_slot_date(ops_leader):
    services.fill_release_slots()
    slot = ReleaseSlot.objects.filter(release_type="minor").first()
    release = services.create_release(
        actor=ops_leader,
        service=ServiceFactory(),
        name="Spring",
        version="2.1.0",
        release_type="minor",
        strategy=Strategy.CANARY,
        slot=slot,
    )
    assert release.planned_at == slot.starts_at
    assert release.owner == ops_leader
    assert release.state == "planned"
    assert [e.action for e in events_for(release)] == ["created"]


def test_create_release_refuses_a_slot_of_another_type(ops_leader):
    services.fill_release_slots()
    slot = ReleaseSlot.objects.filter(release_type="patch").first()
    with pytest.raises(ValidationError) as exc:
        services.create_release(
            actor=ops_leader,
            service=ServiceFactory(),
            name="x",
            version="1",
            release_type="major",
            strategy="rolling",
            slot=slot,
        )
    assert "slot" in exc.value.message_dict


def test_a_hotfix_takes_no_slot_and_defaults_to_now(ops_leader):
    services.fill_release_slots()
    slot = ReleaseSlot.objects.filter(release_type="patch").first()
    with pytest.raises(ValidationError):
        services.create_release(
            actor=ops_leader,
            service=ServiceFactory(),
            name="x",
            version="1",
            release_type="hotfix",
            strategy="rolling",
            slot=slot,
        )
    release = services.create_release(
        actor=ops_leader,
        service=ServiceFactory(),
        name="x",
        version="1.0.1",
        release_type="hotfix",
        strategy="rolling",
    )
    assert abs((release.planned_at - timezone.now()).total_seconds()) < 5


def test_a_regular_release_needs_a_slot_or_a_date(ops_leader):
    with pytest.raises(ValidationError) as exc:
        services.create_release(
            actor=ops_leader,
            service=ServiceFactory(),
            name="x",
            version="1",
            release_type="minor",
            strategy="rolling",
        )
    assert "planned_at" in exc.value.message_dict


# --------------------------------------------------------------------------- lifecycle


def test_full_pipeline_from_planned_to_completed(ops_leader):
    release = release_in("planned")
    approved_change(release)
    seen = []
    for _ in range(6):
        release = services.promote_release(release, actor=ops_leader)
        seen.append(release.state)
    assert seen == ["development", "testing", "staging", "canary", "production", "completed"]
    assert release.completed_at is not None
    actions = [e.action for e in events_for(release)]
    assert actions[-1] == "complete" and "promote_to_production" in actions
    with pytest.raises(workflow.TransitionNotAllowed):
        services.promote_release(release, actor=ops_leader)


def test_promote_with_skip_canary_for_a_rolling_release(ops_leader):
    release = release_in("staging", strategy=Strategy.ROLLING)
    approved_change(release)
    release = services.promote_release(release, actor=ops_leader, skip_canary=True)
    assert release.state == "production" and release.canary_skipped


def test_fail_stage_in_staging_goes_back_to_development(ops_leader):
    release = services.fail_stage(release_in("staging"), actor=ops_leader, reason="perf regression")
    assert release.state == "development" and release.staging_failures == 1


def test_fail_stage_in_canary_rolls_back_with_a_rollback_record(ops_leader):
    release = release_in("canary", version="3.0.0")
    release = services.fail_stage(release, actor=ops_leader, reason="error rate up")
    assert release.state == "rolled_back"
    assert release.canary_failures == 1 and release.rolled_back_at is not None
    rollback = Deployment.objects.get(release=release)
    assert rollback.environment.code == "canary"
    assert rollback.result == "rolled_back" and rollback.notes == "error rate up"
    assert rollback.reported_by == ops_leader


def test_roll_back_from_the_transitions_panel_records_the_rollback(ops_leader):
    release = release_in("canary")
    workflow.perform(release, "roll_back", actor=ops_leader, comment="SLO breached")
    assert Deployment.objects.filter(release=release, result="rolled_back").count() == 1


def test_fail_stage_refuses_a_planned_release(ops_leader):
    with pytest.raises(workflow.TransitionNotAllowed):
        services.fail_stage(release_in("planned"), actor=ops_leader, reason="x")


def test_a_rolled_back_release_can_be_reworked(ops_leader):
    release = services.fail_stage(release_in("canary"), actor=ops_leader, reason="x")
    release = workflow.apply_transition(release, "rework", actor=ops_leader)
    assert release.state == "development"


# --------------------------------------------------------------------------- deployments


def test_a_successful_deployment_moves_the_release_into_that_environment(ops_leader):
    release = release_in("development")
    outcome = services.record_deployment(
        release=release,
        environment=env("testing"),
        version="1.2.0",
        result="succeeded",
        actor=ops_leader,
        reported_via="ci",
    )
    release.refresh_from_db()
    assert outcome.created and outcome.advanced
    assert release.state == "testing"
    assert outcome.deployment.finished_at is not None


def test_a_failed_deployment_is_recorded_without_moving_the_release(ops_leader):
    release = release_in("development")
    outcome = services.record_deployment(
        release=release,
        environment=env("testing"),
        version="1.2.0",
        result="failed",
        actor=ops_leader,
        reported_via="ci",
    )
    release.refresh_from_db()
    assert outcome.created and not outcome.advanced and release.state == "development"


def test_the_same_pipeline_run_is_recorded_once(ops_leader):
    release = release_in("development")
    kwargs = {
        "release": release,
        "environment": env("testing"),
        "version": "1.2.0",
        "result": "succeeded",
        "actor": ops_leader,
        "reported_via": "ci",
        "external_id": "run-42",
    }
    first = services.record_deployment(**kwargs)
    second = services.record_deployment(**kwargs)
    assert first.created and not second.created
    assert second.deployment.pk == first.deployment.pk
    assert Deployment.objects.count() == 1


def test_a_pipeline_run_cannot_be_reused_for_another_environment(ops_leader):
    release = release_in("development")
    services.record_deployment(
        release=release,
        environment=env("testing"),
        version="1",
        result="failed",
        actor=ops_leader,
        external_id="run-7",
    )
    with pytest.raises(ValidationError):
        services.record_deployment(
            release=release,
            environment=env("staging"),
            version="1",
            result="failed",
            actor=ops_leader,
            external_id="run-7",
        )


def test_a_production_deployment_without_approved_change_is_refused_and_audited(ops_leader):
    release = release_in("canary")
    with pytest.raises(workflow.GuardFailed):
        services.record_deployment(
            release=release,
            environment=env("production"),
            version="1",
            result="succeeded",
            actor=ops_leader,
            reported_via="ci",
        )
    assert not Deployment.objects.exists()
    assert "production_deployment_refused" in [e.action for e in events_for(release)]


def test_a_production_deployment_from_testing_is_refused(ops_leader):
    release = release_in("testing")
    approved_change(release)
    with pytest.raises(workflow.TransitionNotAllowed):
        services.record_deployment(
            release=release,
            environment=env("production"),
            version="1",
            result="succeeded",
            actor=ops_leader,
            reported_via="ci",
        )


def test_a_production_deployment_with_approved_change_promotes(developer_pipeline):
    release = release_in("canary")
    approved_change(release)
    outcome = services.record_deployment(
        release=release,
        environment=env("production"),
        version="1",
        result="succeeded",
        actor=developer_pipeline,
        reported_via="github-actions",
    )
    release.refresh_from_db()
    assert outcome.advanced and release.state == "production"
    event = list(events_for(release))[-1]
    assert event.action == "promote_to_production" and "github-actions" in event.actor_label


def test_a_reported_canary_rollback_rolls_the_release_back(ops_leader):
    release = release_in("canary")
    outcome = services.record_deployment(
        release=release,
        environment=env("canary"),
        version="1",
        result="rolled_back",
        actor=ops_leader,
        reported_via="argo",
        notes="5xx spike",
    )
    release.refresh_from_db()
    assert outcome.advanced and release.state == "rolled_back"
    assert Deployment.objects.filter(release=release).count() == 1


def test_a_hand_recorded_deployment_respects_the_users_permission(operator):
    release = release_in("development")
    outcome = services.record_deployment(
        release=release,
        environment=env("testing"),
        version="1",
        result="succeeded",
        actor=operator,
    )
    release.refresh_from_db()
    assert release.state == "development"
    assert isinstance(outcome.refusal, workflow.TransitionForbidden)
    assert Deployment.objects.count() == 1


@pytest.fixture
def developer_pipeline(make_user):
    return make_user("developer", username="ci-bot")


# --------------------------------------------------------------------------- slots


def local(*args):
    return dt.datetime(*args, tzinfo=TOKYO)


def starts(release_type):
    return [
        timezone.localtime(s.starts_at, TOKYO)
        for s in ReleaseSlot.objects.filter(release_type=release_type).order_by("starts_at")
    ]


@time_machine.travel(local(2025, 11, 20, 12, 0), tick=False)
def test_slots_are_generated_across_month_quarter_and_year_ends():
    created = services.fill_release_slots()
    assert created == ReleaseSlot.objects.count() > 0
    # Minor: 2nd Tuesday of each month, Nov 2025 – Feb 2026 (horizon 3 months after November).
    assert [d.date() for d in starts("minor")] == [
        dt.date(2025, 12, 9),
        dt.date(2026, 1, 13),
        dt.date(2026, 2, 10),
    ]  # 2025-11-11 is already past
    # Major: 3rd Tuesday of the first month of each quarter → January 2026 only in the horizon.
    assert [d.date() for d in starts("major")] == [dt.date(2026, 1, 20)]
    assert all(d.hour == 10 and d.minute == 0 for d in starts("major") + starts("minor"))
    assert not ReleaseSlot.objects.filter(release_type="hotfix").exists()


@time_machine.travel(local(2025, 12, 20, 12, 0), tick=False)
def test_weekly_slots_move_off_holidays_and_the_year_end_closure():
    services.fill_release_slots()
    patch_days = [d.date() for d in starts("patch")]
    # Thursdays; 2026-01-01 (New Year, closure 12/29–1/3) moves to Monday 2026-01-05.
    assert dt.date(2025, 12, 25) in patch_days
    assert dt.date(2026, 1, 1) not in patch_days
    assert dt.date(2026, 1, 5) in patch_days
    assert dt.date(2026, 1, 8) in patch_days


def test_filling_slots_twice_creates_nothing_new():
    assert services.fill_release_slots() > 0
    assert services.fill_release_slots() == 0


def test_the_horizon_moves_forward_with_time():
    with time_machine.travel(local(2025, 1, 10, 9, 0), tick=False):
        services.fill_release_slots()
        last = max(starts("minor"))
    with time_machine.travel(local(2025, 3, 10, 9, 0), tick=False):
        services.fill_release_slots()
        assert max(starts("minor")) > last


def test_inactive_or_edited_cadences_are_respected():
    ReleaseCadence.objects.filter(release_type="patch").update(is_active=False)
    ReleaseCadence.objects.filter(release_type="minor").update(weekday=4, week_of_month=1)
    services.fill_release_slots()
    assert not ReleaseSlot.objects.filter(release_type="patch").exists()
    assert all(d.weekday() in (4, 0) for d in starts("minor"))  # Friday, or shifted to Monday


@pytest.mark.usefixtures("demo_clock")
def test_demo_data_has_releases_at_every_stage_and_is_idempotent(make_user):
    from itsm.management.commands.seed_demo import SERVICES
    from releases import demo

    for slug, name in SERVICES:
        ServiceFactory(slug=slug, name=name)
    users = {
        "developer": make_user("developer", username="developer"),
        "leader": make_user("ops_leader", username="leader"),
    }
    demo.seed(users)
    demo.seed(users)
    from releases.models import Release

    assert set(Release.objects.values_list("state", flat=True)) == set(Release.State.values)
    assert Release.objects.count() == len(demo.DEMO_RELEASES)
    assert Deployment.objects.filter(result="rolled_back").exists()


def test_my_open_items(make_user):
    from releases.selectors import releases_for as my_open_items

    dev = make_user("developer", username="dev")
    leader = make_user("ops_leader", username="lead")
    mine = release_in("testing", owner=dev)
    release_in("completed", owner=dev)
    waiting = release_in("canary")
    assert list(my_open_items(dev)) == [mine]
    assert set(my_open_items(leader)) == {waiting}
