"""Every role × every backup-job and restore-test transition, through the API and the HTML panel
(STYLE.md §8, DESIGN.md "Reliability and security").

§11: operators (and the service accounts of backup tools, which hold the operator role) and the
ops ladder report backup runs and carry out restore tests; developers, executives and CAB members
only read them. Expiring a generation belongs to the retention sweep alone, never to a person.
"""

import pytest

from backups.models import BackupJob, RestoreTest

from ..matrix import CHANNELS, N, Y, assert_outcome, case_id, cases, declared, persona
from .factories import BackupJobFactory, RestoreTestFactory

pytestmark = pytest.mark.django_db

# (transition, from state)               op  lead mgr  dev  exec cab  admin
BACKUP_JOB = {
    ("start", "scheduled"):                (Y,  Y,   Y,   N,   N,   N,   Y),
    ("succeed", "scheduled"):              (Y,  Y,   Y,   N,   N,   N,   Y),
    ("succeed", "running"):                (Y,  Y,   Y,   N,   N,   N,   Y),
    ("fail", "scheduled"):                 (Y,  Y,   Y,   N,   N,   N,   Y),
    ("fail", "running"):                   (Y,  Y,   Y,   N,   N,   N,   Y),
    ("verify", "succeeded"):               (Y,  Y,   Y,   N,   N,   N,   Y),
    ("expire", "succeeded"):               (N,  N,   N,   N,   N,   N,   N),
    ("expire", "verified"):                (N,  N,   N,   N,   N,   N,   N),
    ("expire", "failed"):                  (N,  N,   N,   N,   N,   N,   N),
}  # fmt: skip

# (transition, from state)               op  lead mgr  dev  exec cab  admin
RESTORE_TEST = {
    ("start", "planned"):                  (Y,  Y,   Y,   N,   N,   N,   Y),
    ("pass_test", "planned"):              (Y,  Y,   Y,   N,   N,   N,   Y),
    ("pass_test", "running"):              (Y,  Y,   Y,   N,   N,   N,   Y),
    ("fail_test", "planned"):              (Y,  Y,   Y,   N,   N,   N,   Y),
    ("fail_test", "running"):              (Y,  Y,   Y,   N,   N,   N,   Y),
}  # fmt: skip

# What the person types with the transition (the fields its form asks for).
DATA = {
    BackupJob: {
        "succeed": {"size_bytes": 2048, "checksum": "sha256:00ff"},
        "fail": {"error": "disk full"},
    },
    RestoreTest: {
        "pass_test": {"restore_minutes": 45, "notes": "row counts match"},
        "fail_test": {"restore_minutes": 300, "notes": "checksum mismatch"},
    },
}


def test_the_backup_job_matrix_covers_every_transition():
    assert set(BACKUP_JOB) == declared(BackupJob)


def test_the_restore_test_matrix_covers_every_transition():
    assert set(RESTORE_TEST) == declared(RestoreTest)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("row", "role", "allowed"), cases(BACKUP_JOB), ids=case_id)
def test_backup_job_transition_is_allowed_exactly_where_the_matrix_says(
    channel, row, role, allowed, api_as, client
):
    name, source = row
    assert_outcome(
        channel,
        record=BackupJobFactory(state=source),
        name=name,
        allowed=allowed,
        api_as=api_as,
        client=client,
        user=persona(role),
        resource="backup-jobs",
        comment="matrix",
        data=DATA[BackupJob].get(name, {}),
    )


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("row", "role", "allowed"), cases(RESTORE_TEST), ids=case_id)
def test_restore_test_transition_is_allowed_exactly_where_the_matrix_says(
    channel, row, role, allowed, api_as, client
):
    name, source = row
    assert_outcome(
        channel,
        record=RestoreTestFactory(state=source),
        name=name,
        allowed=allowed,
        api_as=api_as,
        client=client,
        user=persona(role),
        resource="restore-tests",
        comment="matrix",
        data=DATA[RestoreTest].get(name, {}),
    )
