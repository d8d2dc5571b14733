"""Escalation through faults, with real components: PostgreSQL, Redis and Celery workers.

(a) the L1→L2→L3→L4 (+L5) chain driven by a real worker, with exact timings;
(b) a worker SIGKILLed in the middle of an escalation → after a restart the step is applied and
    notified exactly once;
(c) Redis stopped → incidents are still filed through the API and the UI; when Redis returns,
    the due steps fire and the pending deliveries go out;
(d) two sweeps racing over the same due rows → each step once;
(e) a webhook answering 500 → retried, then recorded failed, while other deliveries go out.

Run with DATABASE_URL=postgres://… REDIS_URL=redis://… (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from incidents import escalation, services
from incidents.models import EscalationStep, Incident, Page
from incidents.tasks import sweep_deadlines
from itsm.core.models import Notification, Team, TeamWebhook
from itsm.core.roles import Role
from itsm.core.tasks import deliver_pending_notifications
from tests.conftest import _reset_broker_connections, wait_until

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parents[2]
MAJOR = {"impact_scope": "all_users", "business_impact": "revenue_loss", "urgency": "immediate"}
P3 = {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"}


@pytest.fixture
def ladder(make_user):
    people = {}
    for level, role in enumerate(
        [Role.OPERATOR, Role.OPS_LEADER, Role.OPS_MANAGER, Role.DEVELOPER, Role.EXECUTIVE], 1
    ):
        user = make_user(role, username=f"l{level}")
        team = Team.objects.create(name=f"L{level}", slug=f"l{level}", escalation_level=level)
        team.members.add(user)
        people[level] = user
    return people


def _file(detected_at=None, **triage) -> Incident:
    return services.open_incident(
        title="Checkout down", source="monitoring", detected_at=detected_at, **triage
    )


def _keys(incident) -> list[str]:
    return sorted(EscalationStep.objects.filter(incident=incident).values_list("key", flat=True))


# ---------------------------------------------------------------------------- (a)


def test_chain_through_a_real_worker_has_exact_timings(ladder, celery_worker):
    start = timezone.now().replace(microsecond=0) + timedelta(days=1)
    with time_machine.travel(start, tick=True) as clock:
        incident = _file(**MAJOR)
        detected = incident.detected_at
        expected = [
            (15, {"response:breach", "c1:L2"}),
            (45, {"c1:L3", "c1:N5"}),
            (105, {"c1:L4"}),
        ]
        for minutes, new_keys in expected:
            clock.move_to(detected + timedelta(minutes=minutes, seconds=1), tick=True)
            sweep_deadlines.delay()
            wait_until(lambda keys=new_keys: keys <= set(_keys(incident)))
        steps = {s.key: s for s in EscalationStep.objects.filter(incident=incident)}
    assert steps["c1:L2"].due_at == detected + timedelta(minutes=15)
    assert steps["c1:L3"].due_at == detected + timedelta(minutes=45)
    assert steps["c1:L4"].due_at == detected + timedelta(minutes=105)
    assert steps["c1:N5"].level == 5
    incident.refresh_from_db()
    assert incident.escalation_level == 4 and incident.next_deadline_at is None
    for level in range(1, 6):
        assert Notification.objects.filter(recipient=ladder[level], channel="in_app").exists()
    # Every email row was delivered by the worker, once.
    wait_until(lambda: not Notification.objects.filter(channel="email", status="pending").exists())


# ---------------------------------------------------------------------------- (b)


def process_env(tmp_path: Path) -> dict:
    """The environment of a Celery process run against the test database and Redis."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",  # environ drops one slash
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }


def worker_process(tmp_path: Path, name: str) -> subprocess.Popen:
    env = process_env(tmp_path)
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    return subprocess.Popen(  # noqa: S603
        [celery, "-A", "itsm", "worker", "--pool=solo", "-n", f"{name}@%h", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
    )


def _backend_waiting_on_lock() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%%\"core_notification\"%%'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.real_clock  # the workers run in subprocesses, on the machine's clock
def test_worker_killed_mid_escalation_applies_the_step_once_after_restart(
    ladder, celery_app, tmp_path
):
    from django.db import connections as conns

    incident = _file(detected_at=timezone.now() - timedelta(minutes=20), **P3)
    # Drop the reporting flow's delivery messages: the killed worker must die in the sweep.
    celery_app.connection_for_write().default_channel.client.flushdb()
    # The L2 step (15 min) is due. Hold the notification table so the worker blocks inside its
    # escalation transaction, after writing the step row and before its notifications.
    blocker = conns.create_connection("default")
    blocker.set_autocommit(False)
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE core_notification IN EXCLUSIVE MODE")
    first = worker_process(tmp_path, "first")
    try:
        sweep_deadlines.delay()
        # A worker process takes a while to start on a loaded two-core machine.
        wait_until(_backend_waiting_on_lock, timeout=120)
    finally:
        # Killed whatever happened: a stray worker would consume the next tests' tasks.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        blocker.rollback()
        blocker.close()
    time.sleep(0.5)  # PostgreSQL notices the dead client and rolls its transaction back
    assert "c1:L2" not in _keys(incident)
    second = worker_process(tmp_path, "second")
    try:
        sweep_deadlines.delay()  # the next beat tick
        wait_until(lambda: "c1:L2" in _keys(incident), timeout=60)
        sweep_deadlines.delay()  # and one more, as a redelivered message would
        deliver_pending_notifications.delay()  # the beat's catch-up for lost delivery messages
        wait_until(
            lambda: not Notification.objects.filter(channel="email", status="pending").exists(),
            timeout=60,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert EscalationStep.objects.filter(incident=incident, key="c1:L2").count() == 1
    assert Page.objects.filter(incident=incident, step__key="c1:L2", user=ladder[2]).count() == 1
    key = f"{incident.number}:c1:L2"
    assert Notification.objects.filter(key=key, recipient=ladder[2], channel="in_app").count() == 1
    email = Notification.objects.get(key=key, recipient=ladder[2], channel="email")
    assert (email.status, email.attempts) == ("sent", 1)
    # L2 is told about this P3 only by the escalation: exactly one message reached them.
    mails = [p.read_text(errors="replace") for p in (tmp_path / "mail").glob("*.log")]
    assert sum(m.count(f"To: {ladder[2].email}") for m in mails) == 1


# ---------------------------------------------------------------------------- (c)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(  # noqa: S603
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: _port_open(port), timeout=10)
    return proc


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_redis_down_still_files_incidents_and_due_steps_fire_when_it_returns(
    ladder, celery_app, api_as, client
):
    from celery.contrib.testing.worker import start_worker

    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    celery_app.conf.broker_connection_retry = False
    celery_app.conf.broker_connection_max_retries = 0
    _reset_broker_connections(celery_app)
    try:
        # Redis is down (nothing listens on the port).
        api = api_as(ladder[1])
        response = api.post(
            "/api/v1/incidents/",
            {"title": "Checkout down (API)", "source": "monitoring", **P3},
            format="json",
        )
        assert response.status_code == 201, response.content
        client.force_login(ladder[1])
        page = client.post(
            "/incidents/new/",
            {"title": "Checkout down (UI)", "source": "user_report", **P3, "description": ""},
        )
        assert page.status_code == 302, page.content[:500]
        filed = Incident.objects.filter(title__startswith="Checkout down (")
        assert filed.count() == 2
        ui = filed.get(title__endswith="(UI)")
        triaged = client.post(f"/incidents/{ui.number}/triage/", {**P3, "comment": ""})
        assert triaged.status_code == 302, triaged.content[:500]
        # Make the L2 step due, as if Redis stayed down for 20 minutes.
        filed.update(next_deadline_at=timezone.now() - timedelta(minutes=1))
        Incident.objects.filter(pk__in=filed).update(
            detected_at=timezone.now() - timedelta(minutes=20)
        )
        from incidents.models import IncidentEscalation

        IncidentEscalation.objects.filter(incident__in=filed).update(
            started_at=timezone.now() - timedelta(minutes=20),
            level_reached_at=timezone.now() - timedelta(minutes=20),
        )
        with pytest.raises(Exception):  # noqa: B017, PT011 - the beat cannot ring either
            sweep_deadlines.apply_async(retry=False)
        assert Notification.objects.filter(channel="email", status="pending").exists()

        server = _redis(port)
        try:
            _reset_broker_connections(celery_app)
            with start_worker(
                celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"
            ):
                sweep_deadlines.delay()  # the beat's next tick
                for incident in filed:
                    wait_until(lambda i=incident: "c1:L2" in _keys(i), timeout=30)
                deliver_pending_notifications.delay()
                wait_until(
                    lambda: (
                        not Notification.objects.filter(channel="email", status="pending").exists()
                    ),
                    timeout=30,
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        celery_app.conf.broker_url = original
        _reset_broker_connections(celery_app)
    for incident in filed:
        assert EscalationStep.objects.filter(incident=incident, key="c1:L2").count() == 1
    assert Page.objects.filter(incident=incident, step__key="c1:L2", user=ladder[2]).count() == 1


# ---------------------------------------------------------------------------- (d)


def test_two_sweeps_racing_apply_each_step_once(ladder):
    past = timezone.now() - timedelta(minutes=50)
    incidents = [_file(detected_at=past, **MAJOR) for _ in range(30)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(escalation.sweep_deadlines(batch_size=5))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    # 2 warnings, breach, L2, L3, L5 per incident — once each, whoever applied them.
    assert sum(results) == 6 * len(incidents)
    for incident in incidents:
        keys = _keys(incident)
        assert len(keys) == len(set(keys)) == 8  # + report:L1, report:L2
    key = f"{incidents[0].number}:c1:L3"
    assert Notification.objects.filter(key=key, recipient=ladder[3]).count() == 2  # app + email


# ---------------------------------------------------------------------------- (e)


class _Hook(BaseHTTPRequestHandler):
    calls: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.path, body))
        self.send_response(500 if self.path == "/broken" else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_500_is_retried_then_failed_without_blocking_others(
    ladder, celery_worker, settings
):
    settings.NOTIFICATION_RETRY_DELAYS = (1, 1)
    _Hook.calls = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    TeamWebhook.objects.create(team=Team.objects.get(slug="l1"), url=f"{base}/broken")
    TeamWebhook.objects.create(team=Team.objects.get(slug="l2"), url=f"{base}/ok", format="slack")
    try:
        incident = _file(**MAJOR)  # reporting flow: L1 and L2 teams are told at once
        broken = Notification.objects.get(channel="webhook", team__slug="l1")
        wait_until(lambda: Notification.objects.get(pk=broken.pk).status == "failed", timeout=30)
    finally:
        server.shutdown()
    broken.refresh_from_db()
    assert broken.attempts == 3 and "500" in broken.error
    ok = Notification.objects.get(channel="webhook", team__slug="l2")
    assert ok.status == "sent" and ok.attempts == 1
    assert [p for p, _b in _Hook.calls].count("/broken") == 3
    assert [p for p, _b in _Hook.calls].count("/ok") == 1
    assert not Notification.objects.filter(channel="email", status="pending").exists()
    assert incident.number in _Hook.calls[0][1].get("event", "") or _Hook.calls
