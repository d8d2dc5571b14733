"""The escalation sweep in batches (issue 20): constant queries per batch, one step per
incident per batch, exactly once, and one broken incident never stops the others."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import escalation, paging
from incidents.models import EscalationStep, Page, TimelineEntry
from itsm.core.models import AuditEvent, Notification

from . import test_escalation
from .test_escalation import MAJOR, P3, at, file, keys

ladder = test_escalation.ladder

pytestmark = pytest.mark.django_db


def _sweep_counting(minutes: float) -> tuple[int, int]:
    with time_machine.travel(at(minutes), tick=False), CaptureQueriesContext(connection) as q:
        applied = escalation.sweep_deadlines()
    return applied, len(q.captured_queries)


def test_the_sweeps_queries_do_not_grow_with_the_due_incidents(ladder):
    few = [file(**P3) for _ in range(2)]
    applied, queries_few = _sweep_counting(16)  # the L2 step (15 min) of each
    assert applied == len(few)
    many = [file(**P3) for _ in range(12)]
    applied, queries_many = _sweep_counting(16)
    assert applied == len(many)
    assert queries_many <= queries_few + 2
    for incident in many:
        assert keys(incident)[-1] == "c1:L2"
        assert Page.objects.filter(incident=incident, step__key="c1:L2", user=ladder[2]).exists()


def test_a_batch_writes_what_one_incident_at_a_time_wrote(ladder):
    incident = file(**MAJOR)
    with time_machine.travel(at(50), tick=False):
        assert escalation.sweep_deadlines() == 6  # 2 warnings, breach, L2, L3, L5
    assert keys(incident)[2:] == [
        "response:warn:50",
        "response:warn:75",
        "response:breach",
        "c1:L2",
        "c1:L3",
        "c1:N5",
    ]
    step = EscalationStep.objects.get(incident=incident, key="c1:L3")
    assert step.notified == 1
    assert Notification.objects.filter(key=f"{incident.number}:c1:L3").count() == 2
    assert AuditEvent.objects.filter(object_id=str(incident.pk), action="escalate").count() == 2
    assert TimelineEntry.objects.filter(incident=incident, text__contains="L3").exists()
    # The L2 pages stopped when the incident climbed to L3.
    assert not Page.objects.filter(
        incident=incident, level=2, stopped_at__isnull=True, acknowledged_at__isnull=True
    ).exists()
    incident.refresh_from_db()
    assert incident.escalation_level == 3


def test_one_broken_incident_does_not_stop_the_others(ladder, monkeypatch):
    good, broken, other = (file(**P3) for _ in range(3))
    real = paging.page_level

    def page_level(incident, *args, **kwargs):
        if incident.pk == broken.pk:
            raise RuntimeError("a broken incident")
        return real(incident, *args, **kwargs)

    monkeypatch.setattr(paging, "page_level", page_level)
    with time_machine.travel(at(16), tick=False):
        assert escalation.sweep_deadlines() == 2
    assert "c1:L2" in keys(good) and "c1:L2" in keys(other)
    assert "c1:L2" not in keys(broken)
    assert Notification.objects.filter(key=f"{good.number}:c1:L2", recipient=ladder[2]).exists()


def test_a_step_written_behind_the_batchs_back_is_applied_once(ladder, monkeypatch):
    """Whoever wrote a step without the incident's lock, the unique key still holds: the batch
    fails on it and its incidents are applied one by one."""
    incident, other = file(**P3), file(**P3)
    real = escalation.SweepBatch.__init__

    def blind(self, incidents, *, now):
        real(self, incidents, now=now)
        self.done[incident.pk].discard("c1:L2")

    with time_machine.travel(at(16), tick=False):
        EscalationStep.objects.create(
            incident=incident,
            key="c1:L2",
            kind="automatic",
            level=2,
            reason="not_recovered",
            due_at=at(15),
            applied_at=at(15),
        )
        monkeypatch.setattr(escalation.SweepBatch, "__init__", blind)
        assert escalation.sweep_deadlines() == 1  # the other's; the incident's was there
    assert keys(incident).count("c1:L2") == 1
    assert keys(other).count("c1:L2") == 1
