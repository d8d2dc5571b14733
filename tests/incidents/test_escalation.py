"""Escalation and SLA timers (seed §8.3.1, §8.4), time-travelled with exact timings."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from incidents import escalation, services
from incidents.models import EscalationLevel, EscalationPolicy, EscalationStep, Incident
from itsm.core import workflow
from itsm.core.models import Notification, Team
from itsm.core.roles import Role

from .conftest import advance

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
MAJOR = {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"}
P3 = {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"}


@pytest.fixture
def ladder(make_user):
    """One person per rung, each in the team of that rung (like seed_demo)."""
    people = {}
    for level, role in enumerate(
        [Role.OPERATOR, Role.OPS_LEADER, Role.OPS_MANAGER, Role.DEVELOPER, Role.EXECUTIVE], 1
    ):
        user = make_user(role, username=f"l{level}")
        team = Team.objects.create(name=f"L{level}", slug=f"l{level}", escalation_level=level)
        team.members.add(user)
        people[level] = user
    return people


def at(minutes: float, seconds: float = 0):
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def sweep(minutes: float, seconds: float = 0) -> int:
    with time_machine.travel(at(minutes, seconds), tick=False):
        return escalation.sweep_deadlines()


def keys(incident) -> list[str]:
    return list(incident.escalation_steps.order_by("id").values_list("key", flat=True))


def told(user) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user, channel="in_app")
        .order_by("id")
        .values_list("key", flat=True)
    )


def file(**kwargs) -> Incident:
    with time_machine.travel(T0, tick=False):
        return services.open_incident(title="Checkout down", source="monitoring", **kwargs)


def test_policies_are_seeded_from_section_8_4():
    urgent = EscalationPolicy.objects.get(track="urgent", service=None)
    rows = [
        (lv.level, lv.after_level, lv.delay_minutes, lv.target_role, lv.condition, lv.notify_only)
        for lv in urgent.levels.all()
    ]
    assert rows == [
        (1, 0, 0, "operator", "always", False),
        (2, 1, 15, "ops_leader", "always", False),
        (3, 2, 30, "ops_manager", "always", False),
        (4, 3, 60, "developer", "always", False),
        (5, 3, 0, "executive", "major_impact", True),
    ]
    assert EscalationPolicy.objects.filter(track="normal").exists()


def test_p1_left_alone_escalates_l1_l2_l3_l4_and_tells_l5_with_exact_timings(ladder):
    incident = file(**MAJOR)
    # §8.3.1: the ops team (L1) is told at once; P1/P2 also L2.
    assert keys(incident) == ["report:L2", "report:L1"]
    assert told(ladder[1]) == [f"{incident.number}:report:L1"]
    assert told(ladder[2]) == [f"{incident.number}:report:L2"]
    incident.refresh_from_db()
    assert incident.escalation_level == 1
    assert incident.next_deadline_at == at(7, 30)  # 50 % of the 15-minute response target

    assert sweep(7, 29) == 0
    assert sweep(7, 30) == 1
    assert sweep(11, 15) == 1  # 75 %
    assert sweep(14, 59) == 0
    assert sweep(15) == 2  # breach + one level up (the L2 step itself)
    incident.refresh_from_db()
    assert incident.escalation_level == 2
    assert incident.escalation.response_breached_at == at(15)
    assert incident.next_deadline_at == at(45)  # L3 30 min after L2

    assert sweep(44, 59) == 0
    assert sweep(45) == 2  # L3 and, with major impact, L5 executives
    incident.refresh_from_db()
    assert incident.escalation_level == 3
    assert incident.next_deadline_at == at(105)
    assert sweep(105) == 1
    incident.refresh_from_db()
    assert incident.escalation_level == 4
    assert incident.next_deadline_at is None
    assert sweep(600) == 0

    assert keys(incident) == [
        "report:L2",
        "report:L1",
        "response:warn:50",
        "response:warn:75",
        "response:breach",
        "c1:L2",
        "c1:L3",
        "c1:N5",
        "c1:L4",
    ]
    steps = {s.key: s for s in incident.escalation_steps.all()}
    assert steps["c1:L2"].reason == "response_breach"
    assert steps["c1:L3"].due_at == at(45) and steps["c1:L4"].due_at == at(105)
    assert f"{incident.number}:c1:L3" in told(ladder[3])
    assert told(ladder[4]) == [f"{incident.number}:c1:L4"]
    assert told(ladder[5]) == [f"{incident.number}:c1:N5"]
    # Steps are on the incident's timeline too.
    assert incident.timeline.filter(kind="escalation").count() == 9


def test_p3_without_major_impact_never_tells_executives(ladder):
    incident = file(**P3)
    assert keys(incident) == ["report:L1"]  # normal track: no immediate L2
    for minute in (60, 90, 120, 150, 200):
        sweep(minute)
    incident.refresh_from_db()
    assert incident.escalation_level == 4
    assert told(ladder[5]) == []


def test_clock_counts_from_response_start_and_recovery_stops_it(ladder):
    incident = file(**MAJOR)
    with time_machine.travel(at(5), tick=False):
        services.transition(incident, "start_response", actor=ladder[1])
    incident.refresh_from_db()
    assert incident.next_deadline_at == at(20)  # L2 15 min after response start
    assert sweep(15) == 0  # responded in time: no breach, no warnings
    assert sweep(20) == 1
    incident.refresh_from_db()
    assert incident.escalation_level == 2
    with time_machine.travel(at(30), tick=False):
        advance(incident, "start_recovery", "verify")
    incident.refresh_from_db()
    assert incident.next_deadline_at is None
    assert sweep(300) == 0
    # Verification failed: the clock resumes from that moment.
    with time_machine.travel(at(40), tick=False):
        services.transition(incident, "reject_fix", actor=ladder[1], comment="still down")
    incident.refresh_from_db()
    assert incident.next_deadline_at == at(70)  # L3 30 min after resuming


def test_reopen_restarts_the_clock_as_a_new_cycle(ladder):
    incident = file(**P3)
    with time_machine.travel(at(1), tick=False):
        advance(incident, "start_response", "start_recovery", "verify")
        services.close_incident(incident, actor=ladder[3], resolution_summary="fixed")
    assert Incident.objects.get(pk=incident.pk).next_deadline_at is None
    with time_machine.travel(at(120), tick=False):
        services.transition(incident, "reopen", actor=ladder[1], comment="back again")
    incident.refresh_from_db()
    assert incident.escalation_level == 1
    assert incident.escalation.cycle == 2
    assert "c2:L1" in keys(incident)
    assert incident.next_deadline_at == at(135)
    assert sweep(135) == 1
    assert "c2:L2" in keys(incident)


def test_a_sweep_run_twice_applies_each_step_once(ladder):
    incident = file(**MAJOR)
    assert sweep(50) == 6  # 2 warnings, breach, L2, then L3 (45) and L5
    assert sweep(50) == 0
    assert len(keys(incident)) == len(set(keys(incident)))
    assert Notification.objects.filter(key=f"{incident.number}:c1:L3").count() == 2  # app+email


def test_editing_a_policy_does_not_change_escalations_in_flight(ladder):
    incident = file(**MAJOR)
    EscalationLevel.objects.filter(policy__track="urgent", level=3).update(delay_minutes=1)
    sweep(15)
    incident.refresh_from_db()
    assert incident.next_deadline_at == at(45)


def test_a_service_specific_policy_wins_over_the_track_default(ladder):
    from tests.factories import ServiceFactory

    service = ServiceFactory(slug="shop")
    policy = EscalationPolicy.objects.create(name="Shop", track="urgent", service=service)
    EscalationLevel.objects.create(policy=policy, level=1, target_role="operator")
    EscalationLevel.objects.create(policy=policy, level=2, after_level=1, delay_minutes=2)
    incident = file(service=service, **MAJOR)
    assert incident.escalation.policy_name == "Shop"
    sweep(2)
    incident.refresh_from_db()
    assert incident.escalation_level == 2


def test_priority_override_moves_the_incident_onto_the_new_tracks_policy(ladder):
    incident = file(**P3)
    with time_machine.travel(at(1), tick=False):
        services.override_priority(incident, actor=ladder[2], priority="P1", reason="wider")
    incident.refresh_from_db()
    assert incident.escalation.snapshot["policy"].startswith("緊急対応")
    assert incident.next_deadline_at == at(7, 30)


# ---------------------------------------------------------------------------- manual


@pytest.fixture(autouse=True)
def _escalate_one_minute_in(request):
    """Manual escalations happen one minute after detection (nothing else is due yet)."""
    if "escalat" not in request.node.name or "left_alone" in request.node.name:
        yield
        return
    with time_machine.travel(at(1), tick=False):
        yield


def test_operator_escalates_one_level_with_reason_and_comment(ladder):
    incident = file(**P3)
    step = escalation.escalate_incident(
        incident, actor=ladder[1], reason="technical_decision", comment="need DB expertise"
    )
    assert (step.level, step.from_level, step.actor) == (2, 1, ladder[1])
    incident.refresh_from_db()
    assert incident.escalation_level == 2
    assert f"{incident.number}:c1:L2" in told(ladder[2])


def test_operator_may_not_choose_the_level(ladder):
    incident = file(**P3)
    with pytest.raises(workflow.TransitionForbidden):
        escalation.escalate_incident(
            incident, actor=ladder[1], reason="business_decision", comment="x", level=4
        )


def test_ops_manager_escalates_to_a_chosen_level_and_l5_follows_for_major_impact(ladder):
    incident = file(**MAJOR)
    escalation.escalate_incident(
        incident, actor=ladder[3], reason="impact_expanding", comment="all regions", level=3
    )
    incident.refresh_from_db()
    assert incident.escalation_level == 3
    assert "c1:N5" in keys(incident)


@pytest.mark.parametrize(
    ("reason", "comment", "level", "field"),
    [
        ("bored", "x", None, "reason"),
        ("", "x", None, "reason"),
        ("technical_decision", "  ", None, "comment"),
        ("technical_decision", "x", "two", "level"),
        ("technical_decision", "x", 1, "level"),
        ("technical_decision", "x", 7, "level"),
    ],
)
def test_bad_manual_escalation_input_is_refused_by_field(ladder, reason, comment, level, field):
    incident = file(**P3)
    with pytest.raises(ValidationError) as exc:
        escalation.escalate_incident(
            incident, actor=ladder[3], reason=reason, comment=comment, level=level
        )
    assert field in exc.value.message_dict


def test_cannot_escalate_untriaged_closed_or_topmost(ladder, make_user):
    with time_machine.travel(T0, tick=False):
        untriaged = services.open_incident(title="x", source="user_report")
    with pytest.raises(workflow.TransitionNotAllowed):
        escalation.escalate_incident(
            untriaged, actor=ladder[1], reason="not_recovered", comment="x"
        )
    top = file(**P3)
    escalation.escalate_incident(top, actor=ladder[3], reason="not_recovered", comment="x", level=4)
    with pytest.raises(workflow.TransitionNotAllowed):
        escalation.escalate_incident(top, actor=ladder[3], reason="not_recovered", comment="x")
    with pytest.raises(workflow.TransitionForbidden):
        escalation.escalate_incident(
            top, actor=make_user(Role.EXECUTIVE), reason="not_recovered", comment="x"
        )


def test_a_person_and_the_clock_reaching_the_same_level_apply_it_once(ladder):
    incident = file(**P3)
    stale = Incident.objects.get(pk=incident.pk)
    sweep(15)
    with time_machine.travel(at(16), tick=False), pytest.raises(ValidationError):
        # The person's page still showed L1 and asks for L2, which the clock reached first.
        escalation.escalate_incident(
            stale, actor=ladder[3], reason="not_recovered", comment="x", level=2
        )
    assert EscalationStep.objects.filter(incident=incident, key="c1:L2").count() == 1


def test_saving_a_stale_instance_through_a_transition_keeps_the_escalation(ladder):
    incident = file(**P3)
    stale = Incident.objects.get(pk=incident.pk)
    sweep(15)
    services.transition(stale, "start_response", actor=ladder[1])
    assert Incident.objects.get(pk=incident.pk).escalation_level == 2
