"""Change management use cases (seed §9). Views, API views and tasks all call these.

- ``create_change`` / ``create_from_template`` / ``update_change``: file and edit an RFC (§9.4 事前準備)
- ``submit_change``: submit and route by class (§9.3 変更分類), lead time on the business calendar
- ``decide_change``: the class's approver approves or rejects (normal, emergency)
- ``cast_cab_vote``: a CAB member votes on a major change; the CAB decides by its rule
- ``schedule_change``: plan the window (実施計画), freeze windows and lead time enforced
- ``start_implementation``: a fresh pre-change backup of the change's services, or a waiver by
  the class's approver role with a reason, first (§9.4 実施時 1)
- ``log_work``: the work log (§9.4 実施時 3)
- ``verify_change``: the rollback criteria checklist (§9.5)
- ``roll_back_change``, ``close_change``, ``cancel_change``
- ``link_incident``: an incident caused or fixed by a change
- ``open_incident_for_failed_change``: a failed change opens its linked incident in one click
- ``record_post_implementation_review``: the review of an emergency change after the fact
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from itsm.core import workflow
from itsm.core.audit import record_event
from itsm.core.roles import Role, users_with_role
from itsm.core.workflow import (
    GuardFailed,
    TransitionError,
    TransitionForbidden,
    TransitionInvalid,
    TransitionNotAllowed,
    apply_transition,
)

from .choices import (
    ApprovalKind,
    ClassCode,
    Decision,
    IncidentRelation,
    Outcome,
    VerificationResult,
    Vote,
)
from .models import (
    Approval,
    CabVote,
    ChangeClass,
    ChangeRequest,
    FreezeWindow,
    IncidentLink,
    RollbackCriterion,
    StandardChangeTemplate,
    VerificationCheck,
    WorkLogEntry,
    is_class_approver,
    is_implementer_or_ops,
    may_waive_backup,
    pre_change_backup_problem,
)

CAB_LABEL = "CAB"
ROUTING_LABEL = "change routing"


def _add_approval(change: ChangeRequest, **fields) -> Approval:
    approval = Approval.objects.create(change=change, **fields)
    getattr(change, "_prefetched_objects_cache", {}).pop("approvals", None)
    return approval


def _invalid(field: str, message: str, code: str = "invalid") -> TransitionInvalid:
    return TransitionInvalid(message, errors={field: [{"message": message, "code": code}]})


# --- Filing ------------------------------------------------------------------------------

EDITABLE_FIELDS = (
    "title",
    "description",
    "category",
    "change_class",
    "affected_users",
    "risk_level",
    "risk_notes",
    "implementation_plan",
    "rollback_plan",
    "planned_start",
    "planned_end",
    "implementer",
)


@transaction.atomic
def create_change(*, actor, services=(), **fields) -> ChangeRequest:
    """§9.4 事前準備 1: file a request for change (a draft)."""
    change = ChangeRequest(requester=actor, **fields)
    change.full_clean(exclude=["number", "requester", "state"])
    change.save()
    if services:
        change.services.set(services)
    record_event(change, action="created", actor=actor)
    return change


@transaction.atomic
def create_from_template(
    template: StandardChangeTemplate, *, actor, title: str = "", **fields
) -> ChangeRequest:
    """§9.2 標準変更: a change from the pre-approved catalog, with its fixed procedure."""
    if not template.is_active:
        raise _invalid("template", _("This standard change template is not active."))
    standard = ChangeClass.objects.get(code=ClassCode.STANDARD)
    services = fields.pop("services", None) or list(template.services.all())
    return create_change(
        actor=actor,
        services=services,
        title=title or template.name,
        description=fields.pop("description", "") or template.description,
        category=template.category,
        change_class=standard,
        template=template,
        affected_users=fields.pop("affected_users", "")
        or _("As described in the standard change template."),
        risk_level=template.risk_level,
        implementation_plan=template.implementation_plan,
        rollback_plan=template.rollback_plan,
        **fields,
    )


@transaction.atomic
def update_change(change: ChangeRequest, *, actor, services=None, **fields) -> ChangeRequest:
    """Edit an RFC while it is a draft (after submission the plan is what was approved)."""
    if not change.is_editable:
        raise TransitionNotAllowed(_("Only a draft can be edited."))
    if not is_implementer_or_ops(change, actor) and change.requester_id != actor.pk:
        raise TransitionForbidden(_("Only the requester or an ops leader may edit this change."))
    changed = []
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise _invalid(name, _("This field cannot be edited."))
        if getattr(change, name) != value:
            setattr(change, name, value)
            changed.append(name)
    change.full_clean(exclude=["number", "requester", "state"])
    change.save()
    if services is not None:
        old = set(change.services.values_list("pk", flat=True))
        new = {s.pk for s in services}
        if old != new:
            change.services.set(services)
            changed.append("services")
    if changed:
        record_event(change, action="edited", actor=actor, data={"fields": changed})
    return change


# --- Submit and route ---------------------------------------------------------------------


def lead_time_message(change: ChangeRequest) -> str:
    """The refusal for a start inside the lead time; it names the earliest start and offers the
    emergency path (§9.2 緊急変更)."""
    earliest = timezone.localtime(change.earliest_start())
    return _(
        "%(cls)s needs a lead time of %(lead)s on the business calendar: the earliest start is "
        "%(earliest)s. Choose a later start, or file an emergency change if it cannot wait."
    ) % {
        "cls": change.change_class.name,
        "lead": change.change_class.lead_time_label,
        "earliest": earliest.strftime("%Y-%m-%d %H:%M"),
    }


def _apply_with_lead_time(change, name, **kwargs):
    try:
        return apply_transition(change, name, **kwargs)
    except GuardFailed as exc:
        if exc.extra.get("guard") == "respects_lead_time":
            exc.message = lead_time_message(change)
            exc.args = (exc.message,)
        raise


def submit_change(change: ChangeRequest, *, actor, comment: str = "", data=None) -> ChangeRequest:
    """§9.3: submit the RFC and route it by its class — standard (from a template) is approved at
    once, normal goes to review, emergency to emergency review, major to the CAB.

    §9.2 lead time: the planned start must leave the class's lead time after submission, counted
    on the business calendar (normal 3 business days, major 1 week).
    """

    def route(instance):
        apply_transition(instance, "route", actor=None, system_label=ROUTING_LABEL)
        if instance.state == ChangeRequest.State.APPROVED:
            _add_approval(
                instance,
                kind=ApprovalKind.AUTOMATIC,
                decision=Decision.APPROVED,
                comment=str(instance.template or ""),
            )

    return _apply_with_lead_time(change, "submit", actor=actor, comment=comment, after=route)


# --- Decisions ----------------------------------------------------------------------------


def decide_change(
    change: ChangeRequest, *, actor, decision: str, comment: str = ""
) -> ChangeRequest:
    """§9.2 承認者: the class's approver (ops manager) approves or rejects a normal or emergency
    change. Requesters cannot approve their own change; a rejection needs a reason; when two
    approvers decide at once, the second gets a conflict (409)."""
    if decision not in Decision.values:
        raise _invalid("decision", _("Choose approve or reject."))
    if actor is not None and change.requester_id == actor.pk:
        raise TransitionForbidden(_("Requesters cannot approve their own change."))
    kind = (
        ApprovalKind.EMERGENCY_REVIEW
        if change.state == ChangeRequest.State.EMERGENCY_REVIEW
        else ApprovalKind.REVIEW
    )

    def record(instance):
        _add_approval(instance, kind=kind, decision=decision, approver=actor, comment=comment)

    name = "approve" if decision == Decision.APPROVED else "reject"
    return apply_transition(change, name, actor=actor, comment=comment, after=record)


def _approve(change, *, actor, comment="", data=None):
    return decide_change(change, actor=actor, decision=Decision.APPROVED, comment=comment)


def _reject(change, *, actor, comment="", data=None):
    return decide_change(change, actor=actor, decision=Decision.REJECTED, comment=comment)


def _sentences(*parts: str) -> str:
    """Join translated sentences: a space after an English full stop, none after 「。」."""
    text = ""
    for part in filter(None, parts):
        text = f"{text}{part}" if not text or text.endswith("。") else f"{text} {part}"
    return text


@dataclass(frozen=True)
class CabBallot:
    """One active CAB member and their vote (``vote`` empty while they have not voted)."""

    member: object
    vote: str = ""
    comment: str = ""

    def get_vote_display(self) -> str:
        return str(Vote(self.vote).label) if self.vote else _("waiting")


@dataclass(frozen=True)
class CabTally:
    """The CAB's running tally on a change, and the decision rule and outcome in words."""

    active_members: int
    approvals: int
    rejections: int
    required: int
    outcome: str | None  # Decision.APPROVED / Decision.REJECTED / None while open
    percent: int = 50
    rejection_blocks: bool = True
    ballots: tuple[CabBallot, ...] = ()

    @property
    def pending(self) -> int:
        return max(self.active_members - self.approvals - self.rejections, 0)

    @property
    def rule_text(self) -> str:
        """The configured rule (ChangeClass.cab_approval_percent / cab_rejection_blocks)."""
        n, q = self.active_members, self.required
        if self.percent >= 100:
            first = _("All %(n)s active CAB members must approve.") % {"n": n}
        elif self.percent == 50:
            first = _("A majority of the active CAB members must approve: %(q)s of %(n)s.") % {
                "q": q,
                "n": n,
            }
        else:
            first = _(
                "More than %(p)s%% of the active CAB members must approve: %(q)s of %(n)s."
            ) % {"p": self.percent, "q": q, "n": n}
        if self.rejection_blocks:
            second = _(
                "No rejection may stand: one rejection vetoes the change unless its voter "
                "changes it before the last vote."
            )
        else:
            second = _("Rejections do not block once enough members approve.")
        return _sentences(first, second)

    @property
    def count_text(self) -> str:
        return _("Approve %(a)s / reject %(r)s / waiting %(w)s of %(n)s members.") % {
            "a": self.approvals,
            "r": self.rejections,
            "w": self.pending,
            "n": self.active_members,
        }

    @property
    def vetoed(self) -> bool:
        return self.rejection_blocks and self.rejections > 0

    @property
    def warning_text(self) -> str:
        """While open: what will happen if nobody changes their vote."""
        if self.outcome is None and self.vetoed:
            return _("A rejection stands: unless it is withdrawn, the change will be rejected.")
        return ""

    @property
    def outcome_text(self) -> str:
        """After the last vote: the outcome and why ("Rejected: one rejection vetoes …")."""
        a, r, n, q = self.approvals, self.rejections, self.active_members, self.required
        if self.outcome == Decision.APPROVED:
            if self.rejection_blocks:
                return _("Approved: %(a)s of %(n)s approved, no rejection.") % {"a": a, "n": n}
            return _("Approved: %(a)s of %(n)s approved (%(q)s needed).") % {
                "a": a,
                "n": n,
                "q": q,
            }
        if self.outcome == Decision.REJECTED:
            if self.vetoed:
                return ngettext(
                    "Rejected: one rejection vetoes the change (%(a)s of %(n)s approved).",
                    "Rejected: %(r)s rejections veto the change (%(a)s of %(n)s approved).",
                    r,
                ) % {"r": r, "a": a, "n": n}
            if self.pending:
                return _(
                    "Rejected: %(q)s approvals can no longer be reached (%(a)s approved, "
                    "%(w)s still to vote)."
                ) % {"q": q, "a": a, "w": self.pending}
            return _("Rejected: only %(a)s of %(n)s approved; %(q)s were needed.") % {
                "a": a,
                "n": n,
                "q": q,
            }
        return ""


def cab_members():
    return users_with_role(Role.CAB_MEMBER).order_by("username")


def cab_tally(change: ChangeRequest, members=None) -> CabTally:
    """The CAB decision rule (configurable on the class): more than ``cab_approval_percent`` % of
    the active CAB members approve, and — by default — no rejection still stands. The CAB rejects
    when every member has voted without reaching that, or approval can no longer be reached."""
    members = list(cab_members()) if members is None else list(members)
    member_ids = {m.pk for m in members}
    votes = [v for v in change.votes.all() if v.member_id in member_ids]
    approvals = sum(1 for v in votes if v.vote == Vote.APPROVE)
    rejections = sum(1 for v in votes if v.vote == Vote.REJECT)
    cls = change.change_class
    required = cls.cab_required_approvals(len(member_ids))
    blocked = cls.cab_rejection_blocks and rejections > 0
    pending = len(member_ids) - approvals - rejections
    outcome = None
    if approvals >= required and not blocked:
        outcome = Decision.APPROVED
    elif pending <= 0 or approvals + pending < required:
        outcome = Decision.REJECTED
    by_member = {v.member_id: v for v in votes}
    ballots = tuple(
        CabBallot(m, by_member[m.pk].vote, by_member[m.pk].comment)
        if m.pk in by_member
        else CabBallot(m)
        for m in members
    )
    return CabTally(
        len(member_ids),
        approvals,
        rejections,
        required,
        outcome,
        percent=cls.cab_approval_percent,
        rejection_blocks=cls.cab_rejection_blocks,
        ballots=ballots,
    )


def cab_board(change: ChangeRequest) -> CabTally | None:
    """The tally to show on a major change: while the CAB reviews it, and after the CAB decided
    (the outcome and why, from the votes as cast). None when the CAB never saw the change."""
    if change.state == ChangeRequest.State.CAB_REVIEW:
        return cab_tally(change)
    if not change.approvals.filter(kind=ApprovalKind.CAB).exists():
        return None
    return cab_tally(change)


def vote_message(change: ChangeRequest) -> str:
    """The voter's feedback: the running tally, or the CAB's outcome when this was the last vote."""
    change = ChangeRequest.objects.get(pk=change.pk)
    tally = cab_tally(change)
    recorded = _("Your vote on %(number)s is recorded.") % {"number": change.number}
    if change.state != ChangeRequest.State.CAB_REVIEW:
        return _sentences(recorded, tally.outcome_text)
    return _sentences(recorded, tally.count_text, tally.warning_text)


def cast_cab_vote(change: ChangeRequest, *, member, vote: str, comment: str = "") -> CabVote:
    """§9.2 重要変更 → 変更諮問委員会: one vote per active CAB member, changeable until the CAB
    has decided; a rejection needs a reason. The change row is locked while the vote is counted,
    so parallel votes are each counted once and the decision is applied once."""
    if vote not in Vote.values:
        raise _invalid("vote", _("Choose approve or reject."))
    comment = (comment or "").strip()
    if vote == Vote.REJECT and not comment:
        raise _invalid("comment", _("A rejection needs a reason."), code="required")
    if not cab_members().filter(pk=member.pk).exists():
        raise TransitionForbidden(_("Only active CAB members may vote."))
    if change.requester_id == member.pk:
        raise TransitionForbidden(_("Requesters cannot approve their own change."))
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        if locked.state != ChangeRequest.State.CAB_REVIEW:
            raise TransitionNotAllowed(_("This change is not awaiting a CAB decision."))
        try:
            with transaction.atomic():
                ballot, created = CabVote.objects.update_or_create(
                    change=locked, member=member, defaults={"vote": vote, "comment": comment}
                )
        except IntegrityError:  # the same member's other request inserted first
            ballot = CabVote.objects.get(change=locked, member=member)
            ballot.vote, ballot.comment = vote, comment
            ballot.save(update_fields=["vote", "comment", "updated_at"])
            created = False
        record_event(
            locked,
            action="cab_vote" if created else "cab_vote_changed",
            actor=member,
            comment=comment,
            data={"vote": vote},
        )
        tally = cab_tally(locked)
        if tally.outcome is not None:
            name = "cab_approve" if tally.outcome == Decision.APPROVED else "cab_reject"
            summary = tally.outcome_text

            def record(instance):
                _add_approval(
                    instance, kind=ApprovalKind.CAB, decision=tally.outcome, comment=summary
                )

            apply_transition(
                locked, name, actor=None, system_label=CAB_LABEL, comment=summary, after=record
            )
        change.refresh_from_db()
    return ballot


# --- Plan, implement, verify ------------------------------------------------------------


def schedule_change(change: ChangeRequest, *, actor, comment: str = "", data=None):
    """実施計画: set the window. The lead time (from submission, on the business calendar) and
    the freeze windows (unless emergency) are enforced here and at every rescheduling; overlaps
    with other changes on the same service are only warnings (``change.schedule_conflicts()``)."""
    return _apply_with_lead_time(change, "schedule", actor=actor, comment=comment, data=data)


def reschedule_change(change: ChangeRequest, *, actor, comment: str = "", data=None):
    before = {
        "planned_start": change.planned_start.isoformat() if change.planned_start else None,
        "planned_end": change.planned_end.isoformat() if change.planned_end else None,
    }

    def record(instance):
        record_event(instance, action="rescheduled", actor=actor, data={"before": before})

    return _apply_with_lead_time(
        change, "reschedule", actor=actor, comment=comment, data=data, after=record
    )


def _wants_waiver(data: dict) -> bool:
    """Whether the request waives the backup, read as the transition's form reads the checkbox
    (``"on"``, ``true``…; absent means unticked, as for an HTML checkbox)."""
    field = forms.BooleanField(required=False)
    return field.clean(field.widget.value_from_datadict(data, {}, "backup_waived"))


def start_implementation(change: ChangeRequest, *, actor, comment: str = "", data=None):
    """§9.4 実施時 1: the pre-change backup first — a succeeded (verified, where the policy
    verifies) backup job of a policy covering one of the change's services, finished within the
    class's window (default 24 h) before now — or a waiver with a reason, which only the class's
    approver role or an ops manager may give (403 otherwise; audited as ``backup_waived``).
    API clients may name the backup job by its number (``BKP-000123``)."""
    data = dict(data.items()) if data else {}
    backup = data.get("pre_change_backup")
    if isinstance(backup, str) and backup.upper().startswith("BKP-"):
        from backups.models import BackupJob

        job = BackupJob.objects.filter(number=backup.upper()).first()
        if job is None:
            raise _invalid("pre_change_backup", _("No backup job has this number."))
        data["pre_change_backup"] = job.pk
    waiving = _wants_waiver(data)
    scheduled = change.state == ChangeRequest.State.SCHEDULED
    if waiving and scheduled and not may_waive_backup(change, actor):
        raise TransitionForbidden(
            _(
                "Only the class's approver role or an ops manager may waive the pre-change "
                "backup; record a backup job instead."
            ),
            transition="start_implementation",
        )
    change.backup_waived_by = actor if waiving else None
    change.backup_waived_at = timezone.now() if waiving else None

    def record_waiver(instance):
        if instance.backup_waived:
            record_event(
                instance,
                action="backup_waived",
                actor=actor,
                comment=instance.backup_waiver_reason,
            )

    try:
        return apply_transition(
            change,
            "start_implementation",
            actor=actor,
            comment=comment,
            data=data,
            after=record_waiver,
        )
    except TransitionError as exc:
        if isinstance(exc, GuardFailed) and exc.extra.get("guard") == "has_pre_change_backup":
            # The guard's message is general; say what is wrong with this backup or waiver.
            exc.message = pre_change_backup_problem(change) or exc.message
            exc.args = (exc.message,)
        change.backup_waived_by, change.backup_waived_at = None, None
        raise


WORK_LOG_STATES = ("implementing", "verifying", "rolled_back")


def log_work(change: ChangeRequest, *, actor, text: str, at=None) -> WorkLogEntry:
    """§9.4 実施時 3 作業ログの記録: what was done, when, by whom — while the change is worked."""
    text = (text or "").strip()
    if not text:
        raise _invalid("text", _("Write what was done."), code="required")
    if len(text) > 10000:
        raise _invalid("text", _("At most 10000 characters."))
    if change.state not in WORK_LOG_STATES:
        raise TransitionNotAllowed(_("Work is logged while the change is being implemented."))
    if not is_implementer_or_ops(change, actor):
        raise TransitionForbidden(_("Only the implementer or an ops leader may log work."))
    return WorkLogEntry.objects.create(
        change=change, author=actor, text=text, at=at or timezone.now()
    )


@transaction.atomic
def verify_change(
    change: ChangeRequest, *, actor, checks: dict[str, bool], notes: str = ""
) -> ChangeRequest:
    """§9.5 ロールバック判断基準: answer every active criterion. Any criterion met fails the
    verification (the change must be rolled back); none met passes it (it may be closed)."""
    if change.state != ChangeRequest.State.VERIFYING:
        raise TransitionNotAllowed(_("Only a change being verified can record a verification."))
    if not is_implementer_or_ops(change, actor):
        raise TransitionForbidden(_("Only the implementer or an ops leader may verify."))
    criteria = list(RollbackCriterion.objects.filter(is_active=True))
    missing = [c.code for c in criteria if c.code not in checks]
    unknown = sorted(set(checks) - {c.code for c in criteria})
    if unknown:
        raise _invalid("checks", _("Unknown criteria: %(codes)s") % {"codes": ", ".join(unknown)})
    if missing:
        raise _invalid(
            "checks", _("Answer every criterion: %(codes)s") % {"codes": ", ".join(missing)}
        )
    triggered = []
    for criterion in criteria:
        met = bool(checks[criterion.code])
        VerificationCheck.objects.update_or_create(
            change=change,
            criterion=criterion,
            defaults={"triggered": met, "checked_by": actor, "checked_at": timezone.now()},
        )
        if met:
            triggered.append(criterion.code)
    change.verification_result = (
        VerificationResult.FAILED if triggered else VerificationResult.PASSED
    )
    change.verification_notes = notes
    change.save(update_fields=["verification_result", "verification_notes", "updated_at"])
    record_event(
        change,
        action="verified",
        actor=actor,
        comment=notes,
        data={"result": change.verification_result, "criteria_met": triggered},
    )
    return change


def roll_back_change(change: ChangeRequest, *, actor, comment: str = "", data=None):
    """§9.5 ロールバック: record the steps taken; the change then goes to cause analysis."""
    return apply_transition(change, "roll_back", actor=actor, comment=comment, data=data)


def close_change(change: ChangeRequest, *, actor, comment: str = "", data=None):
    """§9.4 事後: the result report and the documentation flag; a passed verification first.
    A successful close records the fix of the incidents linked as *fixed by* this change
    (§8.2 修正作業, :func:`record_incident_fixes`)."""
    return apply_transition(
        change, "close", actor=actor, comment=comment, data=data, after=record_incident_fixes
    )


def record_incident_fixes(change: ChangeRequest) -> list:
    """§8.2 復旧作業 vs 修正作業: a change closed successfully removed the root cause of the
    incidents linked to it as *fixed by*; each one not yet fixed gets ``fixed_at`` = the
    change's close (``incidents.fix.record_fix``, by the system on the change's behalf, so a
    closer without the right to work incidents is not refused). An incident detected after the
    change closed was not fixed by it and is left alone. Returns the incidents fixed."""
    from incidents.fix import record_fix

    if change.state != ChangeRequest.State.CLOSED or change.outcome != Outcome.SUCCESSFUL:
        return []
    fixed = []
    links = change.links.filter(
        relation=IncidentRelation.FIXED_BY, incident__fixed_at__isnull=True
    ).select_related("incident")
    for link in links:
        incident = link.incident
        if change.closed_at is None or change.closed_at < incident.detected_at:
            continue
        record_fix(
            incident,
            actor=None,
            at=min(change.closed_at, timezone.now()),
            change_number=change.number,
            system_label=f"changes: {change.number}",
        )
        fixed.append(incident)
    return fixed


def cancel_change(change: ChangeRequest, *, actor, comment: str = "", data=None):
    """Withdraw a change before implementation starts; pending CAB votes are kept as history."""
    return apply_transition(change, "cancel", actor=actor, comment=comment, data=data)


def link_incident(change: ChangeRequest, incident, *, relation: str, actor) -> IncidentLink:
    """An incident caused by (or fixed by) this change. Linking as *fixed by* a change that
    has already closed successfully records the incident's fix at once (§8.2 修正作業); a change
    still open records it when it closes (:func:`close_change`)."""
    with transaction.atomic():
        link, created = IncidentLink.objects.get_or_create(
            change=change, incident=incident, relation=relation
        )
        if created:
            record_event(
                change,
                action="incident_linked",
                actor=actor,
                data={"incident": incident.number, "relation": relation},
            )
            if relation == IncidentRelation.FIXED_BY:
                record_incident_fixes(change)
    return link


FAILED_STATES = ("rolled_back", "cause_analysis")


def is_failed(change: ChangeRequest) -> bool:
    """Rolled back, in cause analysis, or closed as failed (§9.5)."""
    return change.state in FAILED_STATES or (
        change.state == ChangeRequest.State.CLOSED and change.outcome == Outcome.FAILED
    )


def caused_incident(change: ChangeRequest):
    """The incident this change is recorded as having caused (the first, if several)."""
    link = (
        change.links.filter(relation=IncidentRelation.CAUSED_BY)
        .select_related("incident")
        .order_by("pk")
        .first()
    )
    return link.incident if link else None


def open_incident_for_failed_change(change: ChangeRequest, *, actor) -> tuple[object, bool]:
    """§9.5 → §8.3.1: a failed change opens an incident, linked as caused by the change, in one
    click. Idempotent: when the change already has a caused-by incident, that one is returned
    (``created`` False) — the change row is locked, so two clicks at once open one incident.
    The incident waits for triage like any other (§8.3.2)."""
    from incidents.choices import Source
    from incidents.services import open_incident

    if actor is None or not actor.has_perm("incidents.add_incident"):
        raise TransitionForbidden(_("You may not open incidents."))
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        existing = caused_incident(locked)
        if existing is not None:
            return existing, False
        if not is_failed(locked):
            raise TransitionNotAllowed(
                _("Only a failed change (rolled back or in cause analysis) opens an incident.")
            )
        details = [
            _("%(number)s “%(title)s” failed and was rolled back.")
            % {"number": locked.number, "title": locked.title}
        ]
        if locked.rollback_steps:
            details.append(_("Rollback steps taken:") + "\n" + locked.rollback_steps)
        if locked.cause_findings:
            details.append(_("Cause analysis findings:") + "\n" + locked.cause_findings)
        try:
            incident = open_incident(
                title=_("Failed change %(number)s: %(title)s")
                % {"number": locked.number, "title": locked.title},
                description="\n\n".join(details),
                source=Source.OPS_DISCOVERY,
                service=locked.services.order_by("name").first(),
                actor=actor,
            )
        except ValidationError as exc:
            raise TransitionInvalid(
                _("The incident could not be opened."),
                errors={
                    field: [{"message": m, "code": "invalid"} for m in messages]
                    for field, messages in exc.message_dict.items()
                },
            ) from exc
        link_incident(locked, incident, relation=IncidentRelation.CAUSED_BY, actor=actor)
    change.refresh_from_db()
    return incident, True


def may_review_after_the_fact(change: ChangeRequest, user) -> bool:
    """The class's approver (ops manager), never the requester, once implementation started."""
    return change.needs_post_implementation_review and is_class_approver(change, user)


def record_post_implementation_review(
    change: ChangeRequest, *, actor, review: str
) -> ChangeRequest:
    """§9.2 緊急変更: an emergency change is approved at once and reviewed after the fact. The
    class's approver (not the requester) records the review once implementation has started;
    until then the change shows "review pending". Recording again amends it (both audited)."""
    review = (review or "").strip()
    if not review:
        raise _invalid("review", _("Write the review."), code="required")
    if len(review) > 10000:
        raise _invalid("review", _("At most 10000 characters."))
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        if not locked.is_emergency:
            raise TransitionNotAllowed(
                _("Only emergency changes are reviewed after implementation.")
            )
        if not locked.needs_post_implementation_review:
            raise TransitionNotAllowed(
                _("The post-implementation review is recorded once implementation has started.")
            )
        if not is_class_approver(locked, actor):
            raise TransitionForbidden(
                _("Only the class's approver (not the requester) records the review.")
            )
        amended = locked.post_implementation_reviewed_at is not None
        locked.post_implementation_review = review
        locked.post_implementation_reviewed_at = timezone.now()
        locked.post_implementation_reviewed_by = actor
        locked.save(
            update_fields=[
                "post_implementation_review",
                "post_implementation_reviewed_at",
                "post_implementation_reviewed_by",
                "updated_at",
            ]
        )
        record_event(
            locked,
            action="post_implementation_review_amended"
            if amended
            else "post_implementation_review",
            actor=actor,
            comment=review,
        )
    change.refresh_from_db()
    return change


def may_decide(change: ChangeRequest, user) -> bool:
    return change.state in ("in_review", "emergency_review") and is_class_approver(change, user)


def perform_transition(change: ChangeRequest, name: str, *, actor, comment: str = "", data=None):
    """Any other transition (start verification, cause analysis, close as failed, revise)."""
    return workflow.perform(change, name, actor=actor, comment=comment, data=data)


# ---------------------------------------------------------------------------- freeze windows


def _save_freeze_window(window: FreezeWindow, *, actor, action: str, services=None) -> FreezeWindow:
    window.full_clean(exclude=["services"])
    with transaction.atomic():
        window.save()
        if services is not None:
            window.services.set(services)
        record_event(
            window,
            action=action,
            actor=actor,
            data={
                "starts_at": window.starts_at.isoformat(),
                "ends_at": window.ends_at.isoformat(),
                "services": sorted(s.slug for s in window.services.all()),
            },
        )
    return window


def create_freeze_window(*, actor, services=(), **fields) -> FreezeWindow:
    """A period without changes (empty ``services``: every service); audited. Changes already
    scheduled inside it are not moved: scheduling checks the windows (``schedule_change``)."""
    return _save_freeze_window(
        FreezeWindow(**fields), actor=actor, action="create", services=services
    )


def update_freeze_window(window: FreezeWindow, *, actor, services=None, **fields) -> FreezeWindow:
    for name, value in fields.items():
        setattr(window, name, value)
    return _save_freeze_window(window, actor=actor, action="update", services=services)


def delete_freeze_window(window: FreezeWindow, *, actor) -> None:
    with transaction.atomic():
        record_event(window, action="delete", actor=actor, data={"name": window.name})
        window.delete()


# How each transition is applied when asked for by name (``itsm.core.workflow.perform``).
TRANSITIONS = {
    ChangeRequest: {
        "submit": submit_change,
        "route": workflow.PLAIN,
        "approve": _approve,
        "reject": _reject,
        "cab_approve": workflow.PLAIN,
        "cab_reject": workflow.PLAIN,
        "revise": workflow.PLAIN,
        "schedule": schedule_change,
        "reschedule": reschedule_change,
        "start_implementation": start_implementation,
        "start_verification": workflow.PLAIN,
        "roll_back": roll_back_change,
        "start_cause_analysis": workflow.PLAIN,
        "close": close_change,
        "close_failed": workflow.PLAIN,
        "cancel": cancel_change,
    },
}
