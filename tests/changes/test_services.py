"""Change management use cases (seed §9)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import translation

from changes import services
from changes.choices import Decision, VerificationResult, Vote
from changes.models import (
    Approval,
    CabVote,
    ChangeRequest,
    RollbackCriterion,
    WorkLogEntry,
    has_pre_change_backup,
)
from itsm.core.models import AuditEvent
from itsm.core.roles import Role
from itsm.core.workflow import (
    GuardFailed,
    TransitionForbidden,
    TransitionInvalid,
    TransitionNotAllowed,
    perform,
)
from tests.factories import ServiceFactory

from .factories import (
    ChangeRequestFactory,
    FreezeWindowFactory,
    StandardChangeTemplateFactory,
    change_class,
    jst,
)

pytestmark = pytest.mark.django_db

MONDAY = jst(2026, 6, 1, 10)  # an ordinary week: Mon 1 June 2026


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(MONDAY, tick=False), translation.override("en"):
        yield


@pytest.fixture
def cab(make_user):
    return [make_user(Role.CAB_MEMBER, username=f"cab{i}") for i in range(1, 4)]


def submitted(change, actor=None):
    return services.submit_change(change, actor=actor or change.requester)


def all_clear():
    return {c.code: False for c in RollbackCriterion.objects.filter(is_active=True)}


# --- routing by class ---------------------------------------------------------------------


def test_normal_change_goes_to_review(ops_manager):
    change = submitted(ChangeRequestFactory())
    assert change.state == "in_review"
    assert change.submitted_at == MONDAY


def test_emergency_change_goes_to_emergency_review_without_lead_time():
    change = ChangeRequestFactory(
        change_class=change_class("emergency"),
        planned_start=jst(2026, 6, 1, 11),
        planned_end=jst(2026, 6, 1, 12),
    )
    assert submitted(change).state == "emergency_review"


def test_major_change_goes_to_cab_review():
    change = ChangeRequestFactory(
        change_class=change_class("major"),
        planned_start=jst(2026, 6, 8, 10),
        planned_end=jst(2026, 6, 8, 12),
    )
    assert submitted(change).state == "cab_review"


def test_standard_change_from_template_is_approved_at_once(operator):
    template = StandardChangeTemplateFactory()
    change = services.create_from_template(
        template,
        actor=operator,
        planned_start=jst(2026, 6, 1, 14),
        planned_end=jst(2026, 6, 1, 15),
    )
    change = submitted(change)
    assert change.state == "approved"
    approval = Approval.objects.get(change=change)
    assert (approval.kind, approval.decision) == ("automatic", "approved")
    assert change.rollback_plan == template.rollback_plan


def test_standard_change_without_template_is_refused():
    change = ChangeRequestFactory(change_class=change_class("standard"))
    with pytest.raises(GuardFailed) as exc:
        submitted(change)
    assert exc.value.extra["guard"] == "standard_change_has_template"


@pytest.mark.parametrize(
    ("field", "guard"),
    [
        ("affected_users", "has_impact_assessment"),
        ("rollback_plan", "has_rollback_plan"),
        ("implementation_plan", "has_implementation_plan"),
    ],
)
def test_submit_needs_impact_assessment_and_plans(field, guard):
    change = ChangeRequestFactory(**{field: "  "})
    with pytest.raises(GuardFailed) as exc:
        submitted(change)
    assert exc.value.extra["guard"] == guard
    change.refresh_from_db()
    assert change.state == "draft"


# --- lead time on the business calendar ------------------------------------------------------


def test_normal_change_inside_lead_time_is_refused_with_the_emergency_path():
    change = ChangeRequestFactory(planned_start=jst(2026, 6, 3, 9), planned_end=jst(2026, 6, 3, 12))
    with pytest.raises(GuardFailed) as exc:
        submitted(change)
    assert exc.value.extra["guard"] == "respects_lead_time"
    assert "2026-06-04 10:00" in exc.value.message
    assert "emergency" in exc.value.message


def test_normal_change_exactly_three_business_days_ahead_is_accepted():
    change = ChangeRequestFactory(
        planned_start=jst(2026, 6, 4, 10), planned_end=jst(2026, 6, 4, 12)
    )
    assert submitted(change).state == "in_review"


def test_lead_time_skips_a_public_holiday():
    # Fri 17 July 2026; Mon 20 July is Marine Day (海の日), so 3 business days is Thu 23 July.
    with time_machine.travel(jst(2026, 7, 17, 17, 30), tick=False):
        refused = ChangeRequestFactory(
            planned_start=jst(2026, 7, 22, 17, 30), planned_end=jst(2026, 7, 22, 18)
        )
        with pytest.raises(GuardFailed) as exc:
            submitted(refused)
        assert "2026-07-23 17:30" in exc.value.message
        accepted = ChangeRequestFactory(
            planned_start=jst(2026, 7, 23, 17, 30), planned_end=jst(2026, 7, 23, 19)
        )
        assert submitted(accepted).state == "in_review"


def test_lead_time_from_friday_evening_counts_from_monday():
    # Fri 5 June 2026 at 20:00 (after hours): Mon, Tue, Wed → Wed 10 June, clamped to 18:00.
    with time_machine.travel(jst(2026, 6, 5, 20), tick=False):
        change = ChangeRequestFactory(
            planned_start=jst(2026, 6, 10, 17), planned_end=jst(2026, 6, 10, 19)
        )
        with pytest.raises(GuardFailed):
            submitted(change)
        change.planned_start, change.planned_end = jst(2026, 6, 10, 18), jst(2026, 6, 10, 19)
        change.save()
        assert submitted(change).state == "in_review"


def test_lead_time_skips_the_year_end_closure():
    # Fri 25 Dec 2026: Mon 28 Dec, then 12/29–1/3 closed, Mon 4 Jan, Tue 5 Jan 2027.
    with time_machine.travel(jst(2026, 12, 25, 10), tick=False):
        change = ChangeRequestFactory(
            planned_start=jst(2026, 12, 30, 10), planned_end=jst(2026, 12, 30, 12)
        )
        with pytest.raises(GuardFailed) as exc:
            submitted(change)
        assert "2027-01-05 10:00" in exc.value.message


def test_major_change_needs_a_week():
    change = ChangeRequestFactory(
        change_class=change_class("major"),
        planned_start=jst(2026, 6, 5, 10),
        planned_end=jst(2026, 6, 5, 12),
    )
    with pytest.raises(GuardFailed) as exc:
        submitted(change)
    assert "2026-06-08 10:00" in exc.value.message


def test_rescheduling_earlier_than_the_lead_time_is_refused(ops_manager, ops_leader):
    change = services.decide_change(
        submitted(ChangeRequestFactory()), actor=ops_manager, decision=Decision.APPROVED
    )
    change = services.schedule_change(change, actor=ops_leader, data=_window(2026, 6, 10))
    with pytest.raises(GuardFailed) as exc:
        services.reschedule_change(
            change, actor=ops_leader, comment="earlier", data=_window(2026, 6, 2)
        )
    assert exc.value.extra["guard"] == "respects_lead_time"
    change.refresh_from_db()
    assert change.planned_start == jst(2026, 6, 10, 10)
    services.reschedule_change(
        change, actor=ops_leader, comment="vendor slot", data=_window(2026, 6, 11)
    )
    change.refresh_from_db()
    assert change.planned_start == jst(2026, 6, 11, 10)
    assert AuditEvent.objects.for_object(change).filter(action="rescheduled").exists()


def _window(y, m, d, implementer=None):
    data = {
        "planned_start": f"{y}-{m:02d}-{d:02d} 10:00",
        "planned_end": f"{y}-{m:02d}-{d:02d} 12:00",
    }
    if implementer is not None:
        data["implementer"] = implementer.pk
    return data


# --- freeze windows ---------------------------------------------------------------------------


def _approved(ops_manager, **kwargs):
    change = submitted(ChangeRequestFactory(**kwargs))
    approver = ops_manager
    return services.decide_change(change, actor=approver, decision=Decision.APPROVED)


def test_scheduling_into_a_freeze_window_is_refused(ops_manager, ops_leader):
    FreezeWindowFactory()  # 15–20 June, every service
    change = _approved(ops_manager)
    with pytest.raises(GuardFailed) as exc:
        services.schedule_change(change, actor=ops_leader, data=_window(2026, 6, 16))
    assert exc.value.extra["guard"] == "outside_freeze_windows"


def test_freeze_window_of_another_service_does_not_block(ops_manager, ops_leader):
    from tests.factories import ServiceFactory

    window = FreezeWindowFactory()
    window.services.add(ServiceFactory(slug="billing"))
    change = _approved(ops_manager)
    change.services.add(ServiceFactory(slug="web"))
    services.schedule_change(change, actor=ops_leader, data=_window(2026, 6, 16))
    assert change.state == "scheduled"


def test_emergency_change_may_be_scheduled_in_a_freeze_window(ops_manager, ops_leader):
    FreezeWindowFactory()
    change = submitted(ChangeRequestFactory(change_class=change_class("emergency")))
    services.decide_change(change, actor=ops_manager, decision=Decision.APPROVED)
    services.schedule_change(change, actor=ops_leader, data=_window(2026, 6, 16))
    assert change.state == "scheduled"


def test_overlapping_change_on_the_same_service_is_a_conflict(ops_manager, ops_leader):
    from tests.factories import ServiceFactory

    web = ServiceFactory(slug="web")
    first = _approved(ops_manager, title="first")
    first.services.add(web)
    services.schedule_change(first, actor=ops_leader, data=_window(2026, 6, 10))
    second = _approved(ops_manager, title="second")
    second.services.add(web)
    services.schedule_change(second, actor=ops_leader, data=_window(2026, 6, 10))
    assert list(second.schedule_conflicts()) == [first]


# --- review decisions ---------------------------------------------------------------------------


def test_manager_approval_is_recorded(ops_manager):
    change = services.decide_change(
        submitted(ChangeRequestFactory()), actor=ops_manager, decision="approved", comment="ok"
    )
    assert change.state == "approved"
    approval = change.approvals.get()
    assert (approval.approver, approval.decision, approval.kind) == (
        ops_manager,
        "approved",
        "review",
    )


def test_requester_cannot_approve_own_change(make_user):
    manager = make_user(Role.OPS_MANAGER, username="selfie")
    change = submitted(ChangeRequestFactory(requester=manager))
    with pytest.raises(TransitionForbidden) as exc:
        services.decide_change(change, actor=manager, decision="approved")
    assert "own change" in exc.value.message


def test_ops_leader_cannot_approve_a_normal_change(ops_leader):
    with pytest.raises(TransitionForbidden):
        services.decide_change(
            submitted(ChangeRequestFactory()), actor=ops_leader, decision="approved"
        )


def test_rejection_needs_a_reason(ops_manager):
    change = submitted(ChangeRequestFactory())
    with pytest.raises(TransitionInvalid):
        services.decide_change(change, actor=ops_manager, decision="rejected")
    services.decide_change(change, actor=ops_manager, decision="rejected", comment="too risky")
    assert change.state == "rejected"


def test_second_decision_on_a_decided_change_is_a_conflict(ops_manager, make_user):
    other = make_user(Role.OPS_MANAGER, username="manager2")
    change = submitted(ChangeRequestFactory())
    stale = ChangeRequest.objects.get(pk=change.pk)
    services.decide_change(change, actor=ops_manager, decision="approved")
    with pytest.raises(Exception) as exc:  # 409 either way: not possible now, or concurrent
        services.decide_change(stale, actor=other, decision="rejected", comment="no")
    assert exc.value.status == 409
    assert Approval.objects.filter(change=change).count() == 1


def test_generic_perform_goes_through_the_decision_service(ops_manager):
    change = submitted(ChangeRequestFactory())
    perform(change, "approve", actor=ops_manager, comment="fine")
    assert change.approvals.get().approver == ops_manager


# --- CAB --------------------------------------------------------------------------------------


def _major():
    return submitted(
        ChangeRequestFactory(
            change_class=change_class("major"),
            planned_start=jst(2026, 6, 9, 10),
            planned_end=jst(2026, 6, 9, 12),
        )
    )


def test_cab_majority_approves(cab):
    change = _major()
    services.cast_cab_vote(change, member=cab[0], vote=Vote.APPROVE, comment="fine")
    assert change.state == "cab_review"
    services.cast_cab_vote(change, member=cab[1], vote=Vote.APPROVE)
    assert change.state == "approved"
    assert change.approvals.get().kind == "cab"


def test_a_standing_rejection_blocks_approval_until_withdrawn(cab, make_user):
    cab.append(make_user(Role.CAB_MEMBER, username="cab4"))  # 4 members: 3 approvals needed
    change = _major()
    services.cast_cab_vote(change, member=cab[0], vote=Vote.REJECT, comment="no rollback test")
    services.cast_cab_vote(change, member=cab[1], vote=Vote.APPROVE)
    services.cast_cab_vote(change, member=cab[2], vote=Vote.APPROVE)
    assert change.state == "cab_review"
    services.cast_cab_vote(change, member=cab[0], vote=Vote.APPROVE, comment="tested now")
    assert change.state == "approved"
    assert CabVote.objects.filter(change=change).count() == 3


def test_cab_rejects_when_everyone_voted_without_approval(cab):
    change = _major()
    services.cast_cab_vote(change, member=cab[0], vote=Vote.REJECT, comment="a")
    services.cast_cab_vote(change, member=cab[1], vote=Vote.APPROVE)
    assert change.state == "cab_review"
    services.cast_cab_vote(change, member=cab[2], vote=Vote.APPROVE)
    assert change.state == "rejected"


def test_cab_rule_is_configurable(cab):
    major = change_class("major")
    major.cab_approval_percent = 100  # unanimous
    major.save()
    change = _major()
    services.cast_cab_vote(change, member=cab[0], vote=Vote.APPROVE)
    services.cast_cab_vote(change, member=cab[1], vote=Vote.APPROVE)
    assert change.state == "cab_review"
    services.cast_cab_vote(change, member=cab[2], vote=Vote.APPROVE)
    assert change.state == "approved"


def test_inactive_members_do_not_count(cab):
    cab[2].is_active = False
    cab[2].save()
    change = _major()
    tally = services.cab_tally(change)
    assert (tally.active_members, tally.required) == (2, 2)


def test_cab_rejection_needs_a_reason(cab):
    with pytest.raises(TransitionInvalid):
        services.cast_cab_vote(_major(), member=cab[0], vote=Vote.REJECT, comment=" ")


def test_only_cab_members_vote(ops_manager, cab):
    with pytest.raises(TransitionForbidden):
        services.cast_cab_vote(_major(), member=ops_manager, vote=Vote.APPROVE)


def test_a_member_votes_once_and_may_change_the_vote(cab, make_user):
    cab.append(make_user(Role.CAB_MEMBER, username="cab4"))
    change = _major()
    services.cast_cab_vote(change, member=cab[0], vote=Vote.APPROVE)
    services.cast_cab_vote(change, member=cab[0], vote=Vote.REJECT, comment="changed my mind")
    vote = CabVote.objects.get(change=change, member=cab[0])
    assert vote.vote == "reject"
    assert CabVote.objects.filter(change=change).count() == 1


def test_duplicate_vote_row_is_refused_by_the_database(cab):
    from django.db import IntegrityError, transaction

    change = _major()
    CabVote.objects.create(change=change, member=cab[0], vote="approve")
    with pytest.raises(IntegrityError), transaction.atomic():
        CabVote.objects.create(change=change, member=cab[0], vote="reject", comment="x")


def test_vote_after_the_decision_is_refused(cab):
    change = _major()
    services.cast_cab_vote(change, member=cab[0], vote=Vote.APPROVE)
    services.cast_cab_vote(change, member=cab[1], vote=Vote.APPROVE)
    with pytest.raises(TransitionNotAllowed):
        services.cast_cab_vote(change, member=cab[2], vote=Vote.REJECT, comment="late")


# --- implementation, verification, rollback ------------------------------------------------


@pytest.fixture
def scheduled(ops_manager, operator):
    change = _approved(ops_manager, requester=operator)
    return services.schedule_change(change, actor=operator, data=_window(2026, 6, 10, operator))


def test_implementation_needs_backup_or_waiver(scheduled, operator, ops_manager):
    with pytest.raises(GuardFailed) as exc:
        services.start_implementation(scheduled, actor=operator, data={})
    assert exc.value.extra["guard"] == "has_pre_change_backup"
    assert "No pre-change backup is recorded yet" in exc.value.message
    with pytest.raises(TransitionInvalid) as exc:
        services.start_implementation(scheduled, actor=ops_manager, data={"backup_waived": "on"})
    assert "backup_waiver_reason" in exc.value.extra["errors"]
    services.start_implementation(
        scheduled,
        actor=ops_manager,
        data={"backup_waived": "on", "backup_waiver_reason": "stateless tier"},
    )
    assert scheduled.state == "implementing"


def test_only_the_class_approver_or_an_ops_manager_may_waive_the_backup(
    scheduled, operator, ops_leader, ops_manager
):
    waiver = {"backup_waived": "on", "backup_waiver_reason": "stateless tier"}
    for someone in (operator, ops_leader):  # the implementer; an ops leader (normal: manager)
        with pytest.raises(TransitionForbidden) as exc:
            services.start_implementation(scheduled, actor=someone, data=waiver)
        assert "approver role or an ops manager" in exc.value.message
        scheduled = ChangeRequest.objects.get(pk=scheduled.pk)
        assert (scheduled.state, scheduled.backup_waived) == ("scheduled", False)
    assert not AuditEvent.objects.filter(action="backup_waived").exists()
    services.start_implementation(scheduled, actor=ops_manager, data=waiver)
    scheduled.refresh_from_db()
    assert (scheduled.state, scheduled.backup_waived_by, scheduled.backup_waived_at) == (
        "implementing",
        ops_manager,
        MONDAY,
    )
    event = AuditEvent.objects.get(action="backup_waived", object_id=str(scheduled.pk))
    assert (event.actor, event.comment) == (ops_manager, "stateless tier")


def test_the_standard_class_approver_may_waive_its_backup(ops_leader, operator):
    change = ChangeRequestFactory(
        change_class=change_class("standard"), requester=operator, state="scheduled"
    )
    services.start_implementation(
        change, actor=ops_leader, data={"backup_waived": True, "backup_waiver_reason": "config"}
    )
    assert (change.state, change.backup_waived_by) == ("implementing", ops_leader)


def test_a_waiver_written_without_the_authority_does_not_count(scheduled, operator):
    """Set directly on the record (admin, shell): the guard itself checks who waived."""
    scheduled.backup_waived, scheduled.backup_waiver_reason = True, "trust me"
    scheduled.backup_waived_by = operator
    assert not has_pre_change_backup(scheduled)
    scheduled.backup_waived_by = None
    assert not has_pre_change_backup(scheduled)


@pytest.fixture
def web(scheduled):
    service = ServiceFactory(slug="web")
    scheduled.services.add(service)
    return service


def backup(service, *, state="succeeded", hours_ago=2, **policy):
    from tests.backups.factories import BackupJobFactory, BackupPolicyFactory

    return BackupJobFactory(
        policy=BackupPolicyFactory(service=service, **policy),
        state=state,
        finished_at=MONDAY - timedelta(hours=hours_ago),
    )


def refused(change, actor, job) -> str:
    with pytest.raises(GuardFailed) as exc:
        services.start_implementation(change, actor=actor, data={"pre_change_backup": job.number})
    assert exc.value.extra["guard"] == "has_pre_change_backup"
    assert ChangeRequest.objects.get(pk=change.pk).state == "scheduled"
    return exc.value.message


def test_implementation_with_a_backup_job_by_number(scheduled, web, operator):
    assert "only a succeeded backup counts" in refused(
        scheduled, operator, backup(web, state="failed")
    )
    scheduled = ChangeRequest.objects.get(pk=scheduled.pk)
    job = backup(web)
    services.start_implementation(scheduled, actor=operator, data={"pre_change_backup": job.number})
    assert (scheduled.state, scheduled.pre_change_backup) == ("implementing", job)
    with pytest.raises(TransitionInvalid):
        services.start_implementation(
            ChangeRequest.objects.get(pk=scheduled.pk),
            actor=operator,
            data={"pre_change_backup": "BKP-999999"},
        )


def test_the_backup_must_be_of_a_policy_covering_one_of_the_change_services(
    scheduled, web, operator
):
    other = backup(ServiceFactory(slug="billing"), name="Billing DB")
    assert "“Billing DB”, which covers none of the change's services" in refused(
        scheduled, operator, other
    )
    assert "covers none" in refused(scheduled, operator, backup(None))
    services.start_implementation(
        scheduled, actor=operator, data={"pre_change_backup": backup(web).number}
    )
    assert scheduled.state == "implementing"


def test_the_backup_must_have_finished_within_the_class_window_before_the_start(
    scheduled, web, operator
):
    stale = backup(web, hours_ago=25)
    assert "within 24 hours before the start (2026-06-01 10:00)" in refused(
        scheduled, operator, stale
    )
    later = backup(web, hours_ago=-1)  # "finished" after the start: not a pre-change backup
    assert "within 24 hours" in refused(scheduled, operator, later)
    normal = change_class("normal")
    normal.backup_max_age_hours = 48  # the window is data on the class
    normal.save()
    scheduled = ChangeRequest.objects.get(pk=scheduled.pk)
    services.start_implementation(
        scheduled, actor=operator, data={"pre_change_backup": stale.number}
    )
    assert scheduled.state == "implementing"


def test_a_backup_of_a_verifying_policy_counts_once_verified(scheduled, web, operator):
    from backups.choices import TargetKind

    job = backup(web, target_kind=TargetKind.PORTAL_DATABASE)
    assert "only a verified backup counts" in refused(scheduled, operator, job)
    type(job).objects.filter(pk=job.pk).update(state="verified")
    scheduled = ChangeRequest.objects.get(pk=scheduled.pk)
    services.start_implementation(scheduled, actor=operator, data={"pre_change_backup": job.number})
    assert scheduled.state == "implementing"


@pytest.fixture
def implementing(scheduled, ops_manager):
    return services.start_implementation(
        scheduled, actor=ops_manager, data={"backup_waived": True, "backup_waiver_reason": "none"}
    )


def test_work_log_only_while_implementing(implementing, operator, make_user):
    entry = services.log_work(implementing, actor=operator, text="drained node 1")
    assert WorkLogEntry.objects.get() == entry
    with pytest.raises(TransitionInvalid):
        services.log_work(implementing, actor=operator, text="  ")
    with pytest.raises(TransitionForbidden):
        services.log_work(implementing, actor=make_user(Role.OPERATOR), text="x")


def test_work_log_refused_before_implementation(scheduled, operator):
    with pytest.raises(TransitionNotAllowed):
        services.log_work(scheduled, actor=operator, text="too early")


def test_successful_change_closes_after_passed_verification(implementing, operator):
    change = perform(implementing, "start_verification", actor=operator)
    with pytest.raises(GuardFailed) as exc:
        services.close_change(change, actor=operator, data={"result_report": "done"})
    assert exc.value.extra["guard"] == "verification_passed"
    services.verify_change(change, actor=operator, checks=all_clear(), notes="all green")
    assert change.verification_result == VerificationResult.PASSED
    services.close_change(
        change,
        actor=operator,
        data={"result_report": "done", "documentation_updated": "on", "documentation_url": ""},
    )
    assert (change.state, change.outcome, change.documentation_updated) == (
        "closed",
        "successful",
        True,
    )


def test_failed_verification_leads_to_rollback_and_cause_analysis(
    implementing, operator, ops_leader
):
    change = perform(implementing, "start_verification", actor=operator)
    checks = all_clear() | {"slo_degradation": True}
    services.verify_change(change, actor=operator, checks=checks)
    assert change.verification_result == VerificationResult.FAILED
    with pytest.raises(GuardFailed):
        services.close_change(change, actor=operator, data={"result_report": "x"})
    services.roll_back_change(
        change, actor=operator, comment="p95 doubled", data={"rollback_steps": "redeployed v1"}
    )
    assert (change.state, change.outcome) == ("rolled_back", "failed")
    perform(change, "start_cause_analysis", actor=operator)
    with pytest.raises(TransitionForbidden):
        perform(change, "close_failed", actor=operator, data={"cause_findings": "x"})
    perform(change, "close_failed", actor=ops_leader, data={"cause_findings": "missing index"})
    assert (change.state, change.outcome) == ("closed", "failed")


def test_verification_must_answer_every_criterion(implementing, operator):
    change = perform(implementing, "start_verification", actor=operator)
    with pytest.raises(TransitionInvalid):
        services.verify_change(change, actor=operator, checks={"slo_degradation": False})
    with pytest.raises(TransitionInvalid):
        services.verify_change(change, actor=operator, checks=all_clear() | {"nope": True})


def test_cancel_before_implementation_only(scheduled, implementing, operator):
    with pytest.raises(TransitionNotAllowed):
        services.cancel_change(implementing, actor=operator, comment="late")


def test_cancel_needs_a_reason():
    change = ChangeRequestFactory()
    with pytest.raises(TransitionInvalid):
        services.cancel_change(change, actor=change.requester)
    services.cancel_change(change, actor=change.requester, comment="not needed")
    assert change.state == "cancelled"


def test_update_only_in_draft(operator):
    change = ChangeRequestFactory(requester=operator)
    services.update_change(change, actor=operator, title="New title")
    assert AuditEvent.objects.for_object(change).filter(action="edited").exists()
    submitted(change)
    with pytest.raises(TransitionNotAllowed):
        services.update_change(change, actor=operator, title="again")
