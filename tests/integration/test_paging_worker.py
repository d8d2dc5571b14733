"""Paging through a real Celery beat and worker (issue 16 §8), on the machine's clock.

The beat (PersistentScheduler, the sweeps every second) and a worker run as processes against
the test database and Redis: the on-call person is paged at filing, nobody acknowledges → the
sweep climbs to L2 and pages it; a P1's unacknowledged page repeats; an acknowledgement stops
the repeats. The exactly-once guarantee under a killed worker is in
``test_escalation_reliability.py`` (b), whose step now also writes the pages.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents import acknowledgement, services
from incidents.models import EscalationStep, Page
from itsm.core.models import Notification
from tests.conftest import wait_until
from tests.incidents.factories import on_call_crew
from tests.integration.test_escalation_reliability import ROOT, process_env, worker_process

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.real_clock,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MAJOR = {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"}
P3 = {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"}


def _beat_process(tmp_path: Path) -> subprocess.Popen:
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    return subprocess.Popen(  # noqa: S603
        [celery, "-A", "itsm", "beat", "-S", "celery.beat:PersistentScheduler"]
        + ["-s", str(tmp_path / "beat-schedule"), "-l", "WARNING"],
        cwd=ROOT,
        env={**process_env(tmp_path), "SWEEP_INTERVAL_SECONDS": "1"},
        stdout=(tmp_path / "beat.log").open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def beat_and_worker(celery_app, tmp_path):
    celery_app.connection_for_write().default_channel.client.flushdb()
    processes = [worker_process(tmp_path, "pager"), _beat_process(tmp_path)]
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_on_call_paged_climbs_without_acknowledgement_and_repeats_stop_on_it(
    make_user, beat_and_worker
):
    crew = on_call_crew(make_user, start=timezone.localdate() - timedelta(days=1))
    # A P3 whose L2 wait (15 min) has passed: the on-call person was paged, nobody answered.
    late = services.open_incident(
        title="Batch stuck",
        source="monitoring",
        detected_at=timezone.now() - timedelta(minutes=16),
        **P3,
    )
    assert list(Page.objects.filter(incident=late).values_list("user__username", flat=True)) == [
        "a"
    ]
    wait_until(lambda: Page.objects.filter(incident=late, level=2).exists(), timeout=90)
    step = EscalationStep.objects.get(incident=late, key="c1:L2")
    assert step.reason == "not_acknowledged"
    assert set(
        Page.objects.filter(incident=late, level=2).values_list("user__username", flat=True)
    ) == {
        "lead",
        "lead2",
    }
    assert Page.objects.get(incident=late, level=1).stopped_at is not None

    # A P1: its L1 page repeats while unacknowledged (made due now), and stops once acknowledged.
    p1 = services.open_incident(title="Checkout down", source="monitoring", **MAJOR)
    Page.objects.filter(incident=p1, user=crew["a"]).update(next_repeat_at=timezone.now())
    repeat = f"{p1.number}:report:L1:repeat:1"
    wait_until(
        lambda: Notification.objects.filter(key=repeat, recipient=crew["a"]).exists(), timeout=60
    )
    acknowledgement.acknowledge_incident(p1, actor=crew["a"], via="web")
    assert not Page.objects.filter(incident=p1, next_repeat_at__isnull=False).exists()
    # Even a stale due time set behind its back sends nothing for an acknowledged page.
    Page.objects.filter(incident=p1).update(next_repeat_at=timezone.now())
    wait_until(
        lambda: not Page.objects.filter(incident=p1, next_repeat_at__isnull=False).exists(),
        timeout=30,
    )
    assert not Notification.objects.filter(key__contains=f"{p1.number}:report:L1:repeat:2").exists()
    assert Page.objects.get(incident=p1, user=crew["a"]).repeats == 1
