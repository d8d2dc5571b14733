"""Change request model: classes as data, guards, and the permission matrix (role × transition)."""

import pytest

from changes.models import ChangeClass, ChangeRequest, RollbackCriterion
from itsm.core.roles import Role
from itsm.core.workflow import all_transitions

from .factories import ChangeRequestFactory, change_class

pytestmark = pytest.mark.django_db


def test_classes_are_seeded_from_the_standard():
    rows = {
        c.code: (c.approver_role, c.review_path, c.lead_time_unit, c.lead_time_amount)
        for c in ChangeClass.objects.all()
    }
    assert rows == {
        "standard": ("ops_leader", "auto_approve", "none", 0),
        "normal": ("ops_manager", "review", "business_days", 3),
        "emergency": ("ops_manager", "emergency_review", "none", 0),
        "major": ("cab_member", "cab_review", "business_days", 5),
    }


def test_rollback_criteria_are_seeded_from_section_9_5():
    assert list(RollbackCriterion.objects.values_list("code", flat=True)) == [
        "errors_after_change",
        "slo_degradation",
        "unexpected_side_effects",
        "other",
    ]


@pytest.mark.parametrize(
    ("members", "percent", "required"),
    [(3, 50, 2), (4, 50, 3), (20, 50, 11), (5, 100, 5), (5, 0, 1), (0, 50, 1)],
)
def test_cab_required_approvals(members, percent, required):
    cls = ChangeClass(cab_approval_percent=percent)
    assert cls.cab_required_approvals(members) == required


def test_numbers_are_human_readable():
    assert ChangeRequestFactory().number.startswith("CHG-")


# Who may take each transition (§9.2 approvers, §9.4 steps). "requester" is the requester
# holding only the operator role; every other row is a user who is not the requester.
ROLES = ["requester", "operator", "ops_leader", "ops_manager", "developer", "executive",
         "cab_member", "admin"]  # fmt: skip
Y, N = True, False
MATRIX = {
    #                       req op  lead mgr  dev  exec cab  admin
    "submit":              (Y,  N,  Y,   Y,   N,   N,   N,   Y),
    "route":               (N,  N,  N,   N,   N,   N,   N,   N),
    "approve":             (N,  N,  N,   Y,   N,   N,   N,   Y),
    "reject":              (N,  N,  N,   Y,   N,   N,   N,   Y),
    "cab_approve":         (N,  N,  N,   N,   N,   N,   N,   N),
    "cab_reject":          (N,  N,  N,   N,   N,   N,   N,   N),
    "revise":              (Y,  N,  Y,   Y,   N,   N,   N,   Y),
    "schedule":            (Y,  N,  Y,   Y,   N,   N,   N,   Y),
    "reschedule":          (Y,  N,  Y,   Y,   N,   N,   N,   Y),
    "start_implementation": (Y, N,  Y,   Y,   N,   N,   N,   Y),
    "start_verification":  (Y,  N,  Y,   Y,   N,   N,   N,   Y),
    "roll_back":           (Y,  N,  Y,   Y,   N,   N,   N,   Y),
    "start_cause_analysis": (Y, N,  Y,   Y,   N,   N,   N,   Y),
    "close":               (Y,  N,  Y,   Y,   N,   N,   N,   Y),
    "close_failed":        (N,  N,  Y,   Y,   N,   N,   N,   Y),
    "cancel":              (Y,  N,  Y,   Y,   N,   N,   N,   Y),
}  # fmt: skip


def test_the_matrix_covers_every_transition():
    assert {t.name for t in all_transitions(ChangeRequest)} == set(MATRIX)


@pytest.mark.parametrize(
    ("transition", "role", "allowed"),
    [(t, role, row[i]) for t, row in MATRIX.items() for i, role in enumerate(ROLES)],
)
def test_permission_matrix(transition, role, allowed, make_user):
    requester = make_user(Role.OPERATOR, username="requester")
    change = ChangeRequestFactory(requester=requester, change_class=change_class("normal"))
    user = requester if role == "requester" else make_user(role, username=f"u-{role}")
    if role == "admin":
        user.is_superuser = True
        user.save()
    perms = {t.permission for t in all_transitions(ChangeRequest) if t.name == transition}
    results = {bool(p(change, user)) if p else True for p in perms}
    assert results == {allowed}
