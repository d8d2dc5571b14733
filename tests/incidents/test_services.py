"""Use cases of incident management (incidents.services)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from incidents import services
from incidents.choices import IncidentState, PostmortemKind, TimelineKind
from incidents.models import IncidentPolicy, Postmortem, Runbook
from itsm.core import workflow
from itsm.core.models import AuditEvent
from tests.factories import ServiceFactory, TeamFactory

from .conftest import advance

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


def test_open_without_triage_inputs_waits_in_detected(operator):
    incident = services.open_incident(title="Login slow", source="user_report", actor=operator)
    assert incident.number.startswith("INC-")
    assert incident.state == IncidentState.DETECTED
    assert incident.priority == ""
    assert incident.response_due_at is None
    assert incident.reported_by == operator
    assert AuditEvent.objects.for_object(incident).filter(action="open").exists()


def test_open_with_triage_inputs_is_triaged_at_once(operator):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO), tick=False):
        incident = services.open_incident(
            title="Shop down",
            source="monitoring",
            impact_scope="all_users",
            business_impact="revenue_loss",
            urgency="immediate",
            actor=operator,
        )
    assert incident.state == IncidentState.TRIAGED
    assert incident.priority == "P1"
    assert incident.track == "urgent"
    assert incident.response_due_at == datetime(2026, 3, 2, 10, 15, tzinfo=TOKYO)


def test_monitoring_with_explicit_priority_and_no_actor(db):
    service = ServiceFactory(slug="backups-db")
    detected = datetime(2026, 3, 2, 9, 0, tzinfo=TOKYO)
    incident = services.open_incident(
        title="RPO breached",
        source="monitoring",
        service="backups-db",
        priority="P2",
        system_label="backups: RPO check",
        detected_at=detected,
    )
    assert (incident.state, incident.priority, incident.service) == ("triaged", "P2", service)
    assert incident.response_due_at == datetime(2026, 3, 2, 9, 30, tzinfo=TOKYO)
    event = AuditEvent.objects.for_object(incident).get(action="triage")
    assert event.actor is None and event.actor_label == "backups: RPO check"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": "pager"}, "source"),
        ({"source": "monitoring", "priority": "P9"}, "priority"),
        ({"source": "monitoring", "urgency": "now"}, "urgency"),
        ({"source": "monitoring", "service": "nope"}, "service"),
        ({"source": "monitoring", "title": "  "}, "title"),
    ],
)
def test_open_refuses_bad_input_by_field(kwargs, field):
    kwargs.setdefault("title", "x")
    with pytest.raises(ValidationError) as exc:
        services.open_incident(**kwargs)
    assert field in exc.value.message_dict


def test_triage_sets_priority_team_and_timeline(open_incident, operator):
    incident = open_incident()
    team = TeamFactory()
    services.triage_incident(
        incident,
        actor=operator,
        impact_scope="some_users",
        business_impact="minor",
        urgency="planned",
        team=team,
    )
    incident.refresh_from_db()
    assert (incident.state, incident.priority, incident.team) == ("triaged", "P4", team)
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert TimelineKind.TRANSITION in kinds and TimelineKind.PRIORITY_CHANGE in kinds


def test_triage_twice_is_refused(open_incident, operator):
    incident = open_incident(priority="P3")
    with pytest.raises(workflow.TransitionNotAllowed):
        services.triage_incident(
            incident,
            actor=operator,
            impact_scope="all_users",
            business_impact="minor",
            urgency="immediate",
        )


def test_override_priority_needs_leader_and_reason_and_recomputes_due(
    open_incident, operator, ops_leader
):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO), tick=False):
        incident = open_incident(
            impact_scope="single_feature", business_impact="minor", urgency="immediate"
        )
    assert incident.priority == "P4"
    with pytest.raises(workflow.TransitionForbidden):
        services.override_priority(incident, actor=operator, priority="P1", reason="VIP")
    with pytest.raises(ValidationError):
        services.override_priority(incident, actor=ops_leader, priority="P1", reason=" ")
    with pytest.raises(ValidationError):
        services.override_priority(incident, actor=ops_leader, priority="P0", reason="x")
    services.override_priority(
        incident, actor=ops_leader, priority="P1", reason="Largest customer affected"
    )
    incident.refresh_from_db()
    assert (incident.priority, incident.priority_overridden) == ("P1", True)
    assert incident.response_due_at == datetime(2026, 3, 2, 10, 15, tzinfo=TOKYO)
    event = AuditEvent.objects.for_object(incident).get(action="override_priority")
    assert (event.actor, event.comment, event.data) == (
        ops_leader,
        "Largest customer affected",
        {"from": "P4", "to": "P1"},
    )
    assert incident.timeline.filter(kind=TimelineKind.PRIORITY_CHANGE, data__to="P1").exists()


def test_override_on_closed_incident_is_refused(incident_in, ops_leader):
    incident = incident_in("closed")
    with pytest.raises(workflow.TransitionNotAllowed):
        services.override_priority(incident, actor=ops_leader, priority="P1", reason="late")


def test_timeline_entry_kinds_and_empty_text(open_incident, operator):
    incident = open_incident()
    entry = services.add_timeline_entry(incident, actor=operator, text="DB failover started")
    assert (entry.kind, entry.actor, entry.who) == ("status_update", operator, str(operator))
    with pytest.raises(ValidationError):
        services.add_timeline_entry(incident, actor=operator, text="  ")
    with pytest.raises(ValidationError):
        services.add_timeline_entry(incident, actor=operator, text="x", kind="shout")


def test_start_response_records_start_and_takes_the_incident(open_incident, operator):
    incident = open_incident(priority="P2")
    workflow.perform(incident, "start_response", actor=operator)
    assert incident.response_started_at is not None
    assert incident.assignee == operator


@pytest.mark.parametrize(
    ("priority", "creates"), [("P1", True), ("P2", True), ("P3", False), ("P4", False)]
)
def test_close_creates_the_mandatory_postmortem_only_for_p1_p2(
    incident_in, ops_leader, priority, creates
):
    incident = incident_in("verifying", priority=priority)
    services.close_incident(incident, actor=ops_leader, resolution_summary="Rolled back v2.3")
    assert incident.state == IncidentState.CLOSED
    assert Postmortem.objects.filter(incident=incident).exists() is creates
    if creates:
        pm = incident.postmortem
        assert (pm.kind, pm.mandatory, pm.state) == ("postmortem", True, "draft")
        assert "Rolled back v2.3" in pm.summary
        assert "minutes" in pm.impact or "分" in pm.impact


def test_postmortem_due_counts_business_days(incident_in, ops_leader):
    IncidentPolicy.objects.filter(pk=1).update(postmortem_due_business_days=3)
    incident = incident_in("verifying", priority="P1")
    # Closed Fri 2026-05-01 15:00; 5/4–5/6 are holidays → 5/7, 5/8, 5/11: due Mon 5/11 15:00.
    with time_machine.travel(datetime(2026, 5, 1, 15, 0, tzinfo=TOKYO), tick=False):
        services.close_incident(incident, actor=ops_leader, resolution_summary="fixed")
    assert incident.postmortem.due_at == datetime(2026, 5, 11, 15, 0, tzinfo=TOKYO)


def test_close_through_generic_perform_goes_through_the_service(incident_in, ops_leader):
    incident = incident_in("verifying", priority="P2")
    workflow.perform(
        incident, "close", actor=ops_leader, data={"resolution_summary": "Replaced disk"}
    )
    assert incident.postmortem.mandatory


def test_review_on_request_for_p3_and_only_once(incident_in, operator):
    incident = incident_in("closed", priority="P3")
    review = services.request_postmortem(incident, actor=operator)
    assert (review.kind, review.mandatory) == (PostmortemKind.REVIEW, False)
    with pytest.raises(workflow.TransitionNotAllowed):
        services.request_postmortem(incident, actor=operator)


def test_runbook_attach_copies_steps_and_ticks_record_who(open_incident, operator):
    incident = open_incident()
    runbook = Runbook.objects.get()  # seeded standard recovery runbook
    attached = services.attach_runbook(incident, actor=operator, runbook=runbook)
    assert attached.items.count() == runbook.steps.count() == 5
    again = services.attach_runbook(incident, actor=operator, runbook=runbook)
    assert again.pk == attached.pk and attached.items.count() == 5
    item = attached.items.first()
    services.set_checklist_item(item, actor=operator, done=True)
    item.refresh_from_db()
    assert item.done and item.done_by == operator
    services.set_checklist_item(item, actor=operator, done=False)
    item.refresh_from_db()
    assert not item.done and item.done_by is None


def test_postmortem_review_flow_with_whys_and_action_items(incident_in, ops_leader, operator):
    incident = incident_in("verifying", priority="P1")
    services.close_incident(incident, actor=ops_leader, resolution_summary="Failover")
    pm = incident.postmortem
    with pytest.raises(workflow.GuardFailed) as exc:
        workflow.apply_transition(pm, "submit_for_review", actor=operator)
    assert exc.value.extra["guard"] == "has_root_cause_analysis"
    services.save_whys(
        pm,
        actor=operator,
        rows=[
            {"why": "Why did checkout fail?", "because": "DB connections ran out"},
            {"why": "", "because": ""},  # an empty row added in the editor is ignored
            {"why": "Why did they run out?", "because": "Pool size unchanged after scale-out"},
        ],
    )
    assert list(pm.whys.values_list("order", flat=True)) == [1, 2]
    with pytest.raises(ValidationError):
        services.save_whys(pm, actor=operator, rows=[{"why": "", "because": "orphan"}])
    services.update_postmortem(
        pm, actor=operator, root_cause="Pool sizing is manual", prevention_measures="Autosize"
    )
    item = services.add_action_item(
        pm, actor=operator, title="Automate pool sizing", owner=operator
    )
    workflow.apply_transition(pm, "submit_for_review", actor=operator)
    with pytest.raises(workflow.TransitionForbidden):
        workflow.apply_transition(pm, "publish", actor=operator)
    workflow.apply_transition(pm, "publish", actor=ops_leader)
    assert pm.state == "published" and pm.published_at
    with pytest.raises(workflow.TransitionNotAllowed):
        services.update_postmortem(pm, actor=operator, summary="rewrite")
    services.set_action_item_done(item, actor=operator, done=True)
    item.refresh_from_db()
    assert item.done and item.done_at


def test_review_needs_only_a_summary(incident_in, operator):
    incident = incident_in("closed", priority="P4")
    review = services.request_postmortem(incident, actor=operator)
    review.summary = ""
    review.save()
    with pytest.raises(workflow.GuardFailed):
        workflow.apply_transition(review, "submit_for_review", actor=operator)
    services.update_postmortem(review, actor=operator, summary="Typo in banner")
    workflow.apply_transition(review, "submit_for_review", actor=operator)
    assert review.state == "in_review"


def test_every_transition_lands_on_the_timeline(incident_in):
    incident = incident_in("recovering", priority="P2")
    advance(incident, "verify")
    moves = list(
        incident.timeline.filter(kind=TimelineKind.TRANSITION).values_list(
            "data__transition", flat=True
        )
    )
    assert moves == ["triage", "start_response", "start_recovery", "verify"]


def test_update_incident_audits_and_refuses_state(open_incident, operator):
    incident = open_incident()
    services.update_incident(incident, actor=operator, title="Checkout 500 on /pay")
    assert AuditEvent.objects.for_object(incident).filter(action="update").exists()
    with pytest.raises(ValidationError):
        services.update_incident(incident, actor=operator, state="closed")
