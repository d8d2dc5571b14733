"""Monitoring intake under a real server (DESIGN.md § Performance budgets, issue 5).

gunicorn (production settings, 127.0.0.1 only, 3 sync workers) serves the portal plus a minimal
Django view doing one INSERT; a bounded multi-process HTTP client (new connection per request,
like most webhook senders) measures, in the same run:

- single Events v2 triggers per second vs the one-INSERT view (budget: ≥ 0.5×);
- alerts per second in 100-alert Alertmanager batches (budget: ≥ 5,000/s);
- a storm of 10,000 alerts for one cause (100 new alert groups of 100) → incidents (budget ≤ 5);
- peak RSS per web worker (VmHWM).

Needs PostgreSQL (the throw-away database must be reachable from the gunicorn processes).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
CLIENTS = 4
SINGLE_REQUESTS = 3000
BATCHES = 200
BATCH_SIZE = 100
STORM_ALERTS = 10_000
TIME_LIMIT = 120.0  # seconds per phase, whatever the count


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] or ""
    if s["PASSWORD"]:
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _start_gunicorn(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.intake_settings",
        "ITSM_PRODUCTION": "1",
        "SECRET_KEY": "bench-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _database_url(),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("REDIS_URL", None)  # locmem cache: the rate limit is off for the bench anyway
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, loopback only
        [
            str(gunicorn),
            "itsm.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={WORKERS}",
            "--worker-class=sync",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status = _request(port, b"GET", "/healthz", b"")
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def _request(port: int, method: bytes, path: str, body: bytes, headers: bytes = b"") -> int:
    head = (
        method
        + b" "
        + path.encode()
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n"
        + b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        + headers
        + b"\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        while sock.recv(65536):
            pass
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def _client(args) -> tuple[int, int]:
    port, path, template, headers, start, count, deadline = args
    ok = errors = 0
    for i in range(start, start + count):
        if time.time() > deadline:
            break
        status = _request(port, b"POST", path, template.replace(b"@N@", str(i).encode()), headers)
        if 200 <= status < 300:
            ok += 1
        else:
            errors += 1
    return ok, errors


def _load(port: int, path: str, template: bytes, total: int, headers: bytes = b"", offset=0):
    """``total`` POSTs from ``CLIENTS`` processes; returns (requests/s, ok, errors, seconds)."""
    per = total // CLIENTS
    deadline = time.time() + TIME_LIMIT
    jobs = [
        (port, path, template, headers, offset + c * per, per, deadline) for c in range(CLIENTS)
    ]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
        results = pool.map(_client, jobs)
    elapsed = time.perf_counter() - started
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return ok / elapsed, ok, errors, elapsed


def _peak_rss_mb(master: int) -> list[float]:
    out = subprocess.run(  # noqa: S603
        ["pgrep", "-P", str(master)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    peaks = []
    for pid in out:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return peaks


def _alertmanager_batch(batch_tag: str) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "InstanceDown",
                "instance": f"host-{i}",
                "severity": "critical",
                "batch": batch_tag,
            },
            "annotations": {"summary": "Instance down"},
            "startsAt": "2024-05-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": f"{batch_tag}-{i:04d}",
        }
        for i in range(BATCH_SIZE)
    ]
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="InstanceDown",batch="' + batch_tag + '"}',
            "status": "firing",
            "receiver": "itsm",
            "groupLabels": {"alertname": "InstanceDown"},
            "commonLabels": {"alertname": "InstanceDown", "severity": "critical"},
            "commonAnnotations": {"summary": "Instance down"},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
    ).encode()


def _event(routing_key: str, prefix: str) -> bytes:
    return json.dumps(
        {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": f"{prefix}-@N@",
            "payload": {
                "summary": "Checkout latency above 2 s",
                "source": "web-@N@",
                "severity": "critical",
            },
        }
    ).encode()


def run() -> list[dict]:
    from django.db import connection

    from incidents import intake
    from incidents.models import Alert, Incident

    if connection.vendor != "postgresql":
        return [
            {
                "name": "intake benchmarks",
                "figure": 0,
                "unit": "skipped",
                "note": "needs PostgreSQL: set DATABASE_URL",
            }
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_insert "
            "(id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)"
        )
    events, events_key = intake.create_integration(name="bench events", kind="events_v2")
    am, am_secret = intake.create_integration(name="bench alertmanager", kind="alertmanager")
    storm, storm_secret = intake.create_integration(name="bench storm", kind="alertmanager")
    for integration in (events, am, storm):
        integration.rate_limit_per_minute = 0
        integration.save()
    events.storm_threshold = 10_000  # measure the plain trigger path, not the storm join
    events.save()

    port = _free_port()
    server = _start_gunicorn(port)
    try:
        insert_body = b'{"n": @N@, "summary": "one insert"}'
        _load(port, "/bench/insert/", insert_body, 400)  # warm-up: imports, connections
        _load(port, "/api/v1/integrations/events/", _event(events_key, "warm"), 200)
        insert_rps, insert_ok, insert_err, _ = _load(
            port, "/bench/insert/", insert_body, SINGLE_REQUESTS
        )
        trigger_rps, trigger_ok, trigger_err, _ = _load(
            port, "/api/v1/integrations/events/", _event(events_key, "t"), SINGLE_REQUESTS
        )
        repeat = _event(events_key, "repeat").replace(b"repeat-@N@", b"repeat-1")
        repeat_rps, *_ = _load(port, "/api/v1/integrations/events/", repeat, SINGLE_REQUESTS)

        bearer = f"Authorization: Bearer {am_secret}\r\n".encode()
        batch = _alertmanager_batch("b@N@")
        batch_rps, batch_ok, batch_err, batch_s = _load(
            port, "/api/v1/integrations/alertmanager/", batch, BATCHES, headers=bearer
        )
        stored_alerts = Alert.objects.filter(group__integration=am).count()

        storm_bearer = f"Authorization: Bearer {storm_secret}\r\n".encode()
        storm_rps, storm_ok, storm_err, storm_s = _load(
            port,
            "/api/v1/integrations/alertmanager/",
            _alertmanager_batch("s@N@"),
            STORM_ALERTS // BATCH_SIZE,
            headers=storm_bearer,
        )
        storm_incidents = (
            Incident.objects.filter(alert_groups__integration=storm).distinct().count()
        )
        peaks = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    ratio = trigger_rps / insert_rps if insert_rps else 0.0
    note = (
        f"gunicorn {WORKERS} sync workers, {CLIENTS} client processes, new connection per request"
    )
    return [
        {
            "name": "one-INSERT Django view",
            "figure": round(insert_rps, 1),
            "unit": "requests/s",
            "note": f"{note}; N={insert_ok}, errors={insert_err}",
        },
        {
            "name": "Events v2 trigger (new dedup key)",
            "figure": round(trigger_rps, 1),
            "unit": "requests/s",
            "note": f"N={trigger_ok}, errors={trigger_err}; each opens an incident",
        },
        {
            "name": "Events v2 trigger vs one-INSERT view",
            "figure": round(ratio, 2),
            "unit": "ratio",
            "note": "budget ≥ 0.5 " + ("(met)" if ratio >= 0.5 else "(NOT met)"),
        },
        {
            "name": "Events v2 repeat trigger (same dedup key)",
            "figure": round(repeat_rps, 1),
            "unit": "requests/s",
            "note": "deduplicated: repeat count only",
        },
        {
            "name": "Alertmanager 100-alert batches",
            "figure": round(batch_rps * BATCH_SIZE, 1),
            "unit": "alerts/s",
            "note": f"{batch_ok} batches in {batch_s:.1f} s, errors={batch_err}, "
            f"{stored_alerts} alerts stored; budget ≥ 5,000 "
            + ("(met)" if batch_rps * BATCH_SIZE >= 5000 else "(NOT met)"),
        },
        {
            "name": "storm of 10,000 alerts, one cause → incidents",
            "figure": storm_incidents,
            "unit": "incidents",
            "note": f"{storm_ok} groups of {BATCH_SIZE} in {storm_s:.1f} s, each its own groupKey, "
            f"errors={storm_err}; budget ≤ 5 " + ("(met)" if storm_incidents <= 5 else "(NOT met)"),
        },
        {
            "name": "peak RSS per web worker",
            "figure": round(max(peaks), 1) if peaks else 0.0,
            "unit": "MiB",
            "note": "VmHWM, max of " + ", ".join(f"{p:.0f}" for p in peaks),
        },
    ]
