"""The update cadence (issue 17 §1): when an update is due per priority, the commander reminded
once, an overdue update escalating once with its own reason (and counted on the dashboard).
Frozen instants in JST."""

from datetime import datetime, timedelta

import pytest
import time_machine

from comms import cadence, services
from comms.choices import Audience, UpdateStatus
from comms.models import PriorityComms
from incidents import services as incident_services
from incidents.models import EscalationReason, EscalationStep
from incidents.selectors import escalation_metrics
from itsm.core.models import Notification
from tests.incidents.conftest import advance

from .conftest import T0

pytestmark = pytest.mark.django_db


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def due_of(incident):
    incident.refresh_from_db()
    return cadence.update_due(incident, getattr(incident, "comms", None))


def sweep(minutes: float) -> dict:
    with time_machine.travel(at(minutes), tick=False):
        return cadence.sweep_updates()


def reminders(user):
    return Notification.objects.filter(recipient=user, channel="in_app", message="comms.update_due")


def post(incident, actor, minutes, status=UpdateStatus.INVESTIGATING):
    with time_machine.travel(at(minutes), tick=False):
        return services.post_update(
            incident,
            actor=actor,
            status=status,
            message_en="Working on it.",
            audience=Audience.INTERNAL,
        )


def test_p1_every_30_minutes_p2_every_60_p3_none(file_incident):
    assert due_of(file_incident("P1")).due_at == at(30)
    assert due_of(file_incident("P2")).due_at == at(60)
    assert due_of(file_incident("P3")) is None
    assert due_of(file_incident("P4")) is None


def test_the_cadence_is_data(file_incident):
    PriorityComms.objects.filter(priority="P3").update(update_every_minutes=120)
    assert due_of(file_incident("P3")).due_at == at(120)


def test_each_update_restarts_the_count_and_resolved_ends_it(file_incident, commander):
    incident = file_incident("P1")
    post(incident, commander, 20)
    assert due_of(incident).due_at == at(50)
    post(incident, commander, 45, status=UpdateStatus.RESOLVED)
    assert due_of(incident) is None


def test_a_priority_raised_later_counts_from_the_change(file_incident, ops_leader):
    incident = file_incident("P3")
    with time_machine.travel(at(100), tick=False):
        incident_services.override_priority(
            incident, actor=ops_leader, priority="P1", reason="All users affected"
        )
    assert due_of(incident).due_at == at(130)  # not at(30): never overdue the moment it changes


def test_the_commander_is_reminded_once_five_minutes_before(file_incident, commander):
    incident = file_incident("P1")
    services.assign_roles(incident, actor=commander, commander=commander)
    assert sweep(24)["reminded"] == 0
    assert sweep(25)["reminded"] == 1
    assert sweep(27)["reminded"] == 0  # once per due instant
    assert reminders(commander).count() == 1
    assert datetime.fromisoformat(reminders(commander).get().params["due_at"]) == at(30)


def test_without_a_commander_the_assignee_is_reminded(file_incident, operator):
    incident = file_incident("P1")
    incident_services.assign_incident(incident, actor=operator, assignee=operator)
    sweep(26)
    assert reminders(operator).count() == 1


def test_an_overdue_update_escalates_once_with_its_reason(file_incident, commander):
    incident = file_incident("P1")
    services.assign_roles(incident, actor=commander, commander=commander)
    incident.refresh_from_db()
    level = incident.escalation_level
    # Due at +30, grace 10 minutes: still not an escalation at +39.
    assert sweep(39)["escalated"] == 0
    # The escalation clock itself would climb too; count only the overdue step.
    result = sweep(40)
    assert result["escalated"] == 1
    steps = EscalationStep.objects.filter(incident=incident, reason=EscalationReason.UPDATE_OVERDUE)
    assert steps.count() == 1
    assert steps.get().level > level
    assert sweep(45)["escalated"] == 0
    assert steps.count() == 1
    overdue = Notification.objects.filter(
        recipient=commander, channel="in_app", message="comms.update_overdue"
    )
    assert overdue.count() == 1
    metrics = escalation_metrics(since=at(0), until=at(60))
    assert metrics["automatic_by_reason"]["update_overdue"] == 1


def test_an_update_posted_in_time_prevents_the_escalation(file_incident, commander):
    incident = file_incident("P1")
    post(incident, commander, 28)
    assert sweep(40)["escalated"] == 0
    assert not EscalationStep.objects.filter(
        incident=incident, reason=EscalationReason.UPDATE_OVERDUE
    ).exists()


def test_a_closed_incident_owes_nothing(file_incident):
    incident = file_incident("P1")
    advance(incident, "start_response", "start_recovery", "verify")
    assert due_of(incident) is not None  # recovered, not closed: stakeholders still hear
    advance(incident, "close", data={"resolution_summary": "pool enlarged"})
    assert due_of(incident) is None
