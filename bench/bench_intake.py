"""Monitoring intake under a real server (DESIGN.md § Performance budgets, issue 5).

gunicorn (production settings, 127.0.0.1 only, 3 sync workers) serves the portal plus a minimal
Django view doing one INSERT; a private Redis (127.0.0.1, no persistence) is the cache and the
broker, and one Celery worker (solo pool) runs ``incidents.process_deliveries`` as in production.
A bounded multi-process HTTP client (new connection per request, like most webhook senders)
measures, in the same run:

- single Events v2 triggers per second vs the one-INSERT view (budget: ≥ 0.5×), in alternating
  rounds whose median counts (load on a 2-core box drifts between phases), and how fast the
  worker turns them into incidents;
- alerts per second in 100-alert Alertmanager batches, acknowledged (202s) and end to end (until
  every delivery is processed) (budget: ≥ 5,000/s);
- new-key Events v2 triggers → open incidents (triaged, clock started, first pages queued,
  audited) end to end, against the one-INSERT view's requests/s of the same run, in rounds
  alternating with INSERT-view rounds whose ratios' median counts (issue 20, budget: ≥ 0.25×);
- Alertmanager batches whose every group is new (the storm rule out of the way): alerts/s and
  incidents/s end to end (issue 20);
- a storm of 10,000 alerts for one cause (100 new alert groups of 100) → incidents (budget: the
  storm rule's threshold + 1 — the first groups are incidents of their own, the rest one storm
  incident; ≤ 11 with the default rule, issue 13; it was ≤ 5 under the old 3-incident rule),
  three times (each on an integration of its own): the Celery worker's peak RSS after each
  (issue 20, budget: ≤ 150 MiB, and no growth from the first storm to the third);
- peak RSS per web worker and of the Celery worker (VmHWM).

Each phase waits (bounded) until its deliveries are processed before the next starts.
Needs PostgreSQL (the throw-away database must be reachable from the gunicorn processes).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
CLIENTS = 4
SINGLE_REQUESTS = 2000
BATCHES = 200
ROUNDS = 3  # interleaved rounds; the figures are their medians (a 2-core box drifts ±20 %)
ROUND_REQUESTS = 1000
BATCH_SIZE = 100
STORM_ALERTS = 10_000
STORMS = 3  # repeated storms: the worker's memory must not grow from one to the next
NEW_GROUP_BATCHES = 200  # Alertmanager batches whose every group is new (one incident each)
TIME_LIMIT = 120.0  # seconds per phase, whatever the count
PROCESS_LIMIT = 300.0  # seconds to wait for the worker to drain a phase


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


def _start_redis() -> tuple[subprocess.Popen | None, str]:
    """A private Redis on a free loopback port (no persistence); ``(None, "")`` without one."""
    server = shutil.which("redis-server")
    if not server:
        return None, ""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, loopback only
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    process.kill()
    return None, ""


def _server_env(redis_url: str, broker_dir: Path) -> dict:
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
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:  # no Redis here: Celery on the filesystem transport in a private folder
        env["CELERY_BROKER_DIR"] = str(broker_dir)
    return env


def _start_worker(env: dict, broker_dir: Path) -> subprocess.Popen:
    if "REDIS_URL" not in env:
        for sub in ("queue", "processed"):
            (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            str(celery),
            "-A",
            "itsm",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )


def _start_gunicorn(port: int, env: dict) -> subprocess.Popen:
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


def _status_mb(pid: int, field: str) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _hwm_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    return _status_mb(pid, "VmHWM")


def _rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS)."""
    return _status_mb(pid, "VmRSS")


def _drained(integration, started: float) -> tuple[float, int]:
    """Wait (bounded) until the integration has no pending delivery; ``(seconds since
    started, deliveries still pending)``."""
    from intake.models import Delivery

    pending = Delivery.objects.filter(integration=integration, result="pending")
    deadline = time.perf_counter() + PROCESS_LIMIT
    while time.perf_counter() < deadline:
        if not pending.exists():
            return time.perf_counter() - started, 0
        time.sleep(0.05)
    return time.perf_counter() - started, pending.count()


def run() -> list[dict]:
    import tempfile

    from django.db import connection

    from incidents.models import Incident
    from intake import services as intake_services
    from intake.models import Alert, Delivery

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
    events, events_key = intake_services.create_integration(name="bench events", kind="events_v2")
    am, am_secret = intake_services.create_integration(
        name="bench alertmanager", kind="alertmanager"
    )
    storms = [
        intake_services.create_integration(name=f"bench storm {n}", kind="alertmanager")
        for n in range(1, STORMS + 1)
    ]
    storm = storms[0][0]
    fresh, fresh_secret = intake_services.create_integration(
        name="bench new groups", kind="alertmanager"
    )
    for integration in (events, am, fresh, *(s for s, _ in storms)):
        # Counted as in production (leases of 1 %), but high enough never to refuse.
        integration.rate_limit_per_minute = 10_000_000
        integration.save()
    for integration in (events, fresh):
        integration.storm_threshold = 10_000  # measure the plain opening, not the storm join
        integration.save()

    redis, redis_url = _start_redis()
    broker_dir = Path(tempfile.mkdtemp(prefix="bench-intake-broker-"))
    env = _server_env(redis_url, broker_dir)
    port = _free_port()
    worker = _start_worker(env, broker_dir)
    server = None
    try:
        server = _start_gunicorn(port, env)
        insert_body = b'{"n": @N@, "summary": "one insert"}'
        _load(port, "/bench/insert/", insert_body, 400)  # warm-up: imports, connections
        started = time.perf_counter()
        _load(port, "/api/v1/integrations/events/", _event(events_key, "warm"), 200)
        _drained(events, started)
        # The endpoint's own capacity next to the INSERT view's, in alternating rounds (the
        # ratio of each adjacent pair, then the median): the worker is paused (SIGSTOP), so
        # deliveries queue up; once it resumes, the time to drain them is the processing rate.
        inserts, triggers = [], []
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            for r in range(ROUNDS):
                inserts.append(
                    _load(port, "/bench/insert/", insert_body, ROUND_REQUESTS, offset=r * 10**6)
                )
                triggers.append(
                    _load(
                        port,
                        "/api/v1/integrations/events/",
                        _event(events_key, f"t{r}"),
                        ROUND_REQUESTS,
                    )
                )
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        ratio = statistics.median(t[0] / i[0] for i, t in zip(inserts, triggers, strict=True))
        insert_rps = statistics.median(i[0] for i in inserts)
        trigger_rps = statistics.median(t[0] for t in triggers)
        insert_ok, insert_err = sum(i[1] for i in inserts), sum(i[2] for i in inserts)
        trigger_ok, trigger_err = sum(t[1] for t in triggers), sum(t[2] for t in triggers)
        opened_before = Incident.objects.filter(alert_groups__integration=events).count()
        started = time.perf_counter()
        drain_s, trigger_left = _drained(events, started)
        drained = Incident.objects.filter(alert_groups__integration=events).count() - opened_before
        # The same with the worker running alongside (one 2-core box: they share the CPU), in
        # rounds alternating with INSERT-view rounds: the ratio of each pair, then the median.
        ends = []  # (incidents/s end to end, INSERT-view requests/s, acknowledged/s, ok, errors)
        for r in range(ROUNDS):
            insert_now = _load(
                port, "/bench/insert/", insert_body, ROUND_REQUESTS, offset=(ROUNDS + r) * 10**6
            )
            opened_before = Incident.objects.filter(alert_groups__integration=events).count()
            started = time.perf_counter()
            busy_rps, busy_ok, busy_err, _ = _load(
                port,
                "/api/v1/integrations/events/",
                _event(events_key, f"u{r}"),
                SINGLE_REQUESTS // 2,
            )
            trigger_s, busy_left = _drained(events, started)
            trigger_left += busy_left
            opened = (
                Incident.objects.filter(alert_groups__integration=events).count() - opened_before
            )
            ends.append((opened / trigger_s, insert_now[0], busy_rps, busy_ok, busy_err))

        repeat = _event(events_key, "repeat").replace(b"repeat-@N@", b"repeat-1")
        started = time.perf_counter()
        repeat_rps, repeat_ok, *_ = _load(
            port, "/api/v1/integrations/events/", repeat, SINGLE_REQUESTS
        )
        repeat_s, repeat_left = _drained(events, started)

        bearer = f"Authorization: Bearer {am_secret}\r\n".encode()
        batch_rounds, batch_left, batch_err = [], 0, 0
        for r in range(ROUNDS):
            started = time.perf_counter()
            batch_rps, batch_ok, errors, _ = _load(
                port,
                "/api/v1/integrations/alertmanager/",
                _alertmanager_batch(f"b{r}-@N@"),
                BATCHES,
                headers=bearer,
            )
            batch_e2e_s, left_over = _drained(am, started)
            batch_left += left_over
            batch_err += errors
            batch_rounds.append((batch_rps * BATCH_SIZE, batch_ok * BATCH_SIZE / batch_e2e_s))
        stored_alerts = Alert.objects.filter(group__integration=am).count()

        # Every group new, the storm rule out of the way: one incident per batch (issue 20).
        started = time.perf_counter()
        _, fresh_ok, fresh_err, _ = _load(
            port,
            "/api/v1/integrations/alertmanager/",
            _alertmanager_batch("n@N@"),
            NEW_GROUP_BATCHES,
            headers=f"Authorization: Bearer {fresh_secret}\r\n".encode(),
        )
        fresh_s, fresh_left = _drained(fresh, started)
        fresh_incidents = Incident.objects.filter(alert_groups__integration=fresh).count()

        storm_runs = []  # per storm: (acknowledged s, processed s, errors, left, HWM, RSS)
        for n, (integration, secret) in enumerate(storms):
            started = time.perf_counter()
            _, ok, errors, acked_s = _load(
                port,
                "/api/v1/integrations/alertmanager/",
                _alertmanager_batch(f"s{n}-@N@"),
                STORM_ALERTS // BATCH_SIZE,
                headers=f"Authorization: Bearer {secret}\r\n".encode(),
            )
            processed_s, left_over = _drained(integration, started)
            storm_runs.append(
                (
                    ok,
                    acked_s,
                    processed_s,
                    errors,
                    left_over,
                    _hwm_mb(worker.pid),
                    _rss_mb(worker.pid),
                )
            )
        storm_ok, storm_s, storm_e2e_s, storm_err, storm_left = storm_runs[0][:5]
        storm_incidents = (
            Incident.objects.filter(alert_groups__integration=storm).distinct().count()
        )
        storm_alerts = Alert.objects.filter(group__integration=storm).count()
        storm_budget = storm.storm_threshold + 1  # own incidents until the storm, then one
        failed = Delivery.objects.exclude(result__in=["processed", "dropped"]).count()
        peaks = _peak_rss_mb(server.pid)
        worker_peak = _hwm_mb(worker.pid)
    finally:
        for process in (server, worker, redis):
            if process is not None:
                process.terminate()
        for process in (server, worker, redis):
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(broker_dir, ignore_errors=True)

    e2e_ratios = [opened_rate / insert for opened_rate, insert, *_rest in ends]
    e2e_ratio = statistics.median(e2e_ratios)
    e2e_rate = statistics.median(e[0] for e in ends)
    busy_rps = statistics.median(e[2] for e in ends)
    busy_ok, busy_err = sum(e[3] for e in ends), sum(e[4] for e in ends)
    storm_peak = max(run[5] for run in storm_runs)
    storm_growth = storm_runs[-1][5] - storm_runs[0][5]
    batch_ack = statistics.median(ack for ack, _ in batch_rounds)
    batch_e2e = statistics.median(e2e for _, e2e in batch_rounds)

    def rounds(values) -> str:
        return f"median of {ROUNDS} rounds: " + " / ".join(f"{v:,.0f}" for v in values)

    broker = "Redis" if redis_url else "filesystem broker"
    note = (
        f"gunicorn {WORKERS} sync workers, {CLIENTS} client processes, new connection per "
        f"request; 1 Celery worker (solo), {broker}"
    )

    def left(n: int) -> str:
        return f"; {n} still pending after {PROCESS_LIMIT:.0f} s" if n else ""

    def met(ok: bool) -> str:
        return "(met)" if ok else "(NOT met)"

    return [
        {
            "name": "one-INSERT Django view",
            "figure": round(insert_rps, 1),
            "unit": "requests/s",
            "note": f"{note}; {rounds(i[0] for i in inserts)}; N={insert_ok}, errors={insert_err}",
        },
        {
            "name": "Events v2 trigger (new dedup key), acknowledged",
            "figure": round(trigger_rps, 1),
            "unit": "requests/s",
            "note": f"{rounds(t[0] for t in triggers)}, each right after an INSERT-view round; "
            f"N={trigger_ok}, errors={trigger_err}; 202 once stored; rate limit counted; worker "
            "paused (the endpoint's own capacity, like the INSERT view's)",
        },
        {
            "name": "Events v2 trigger vs one-INSERT view",
            "figure": round(ratio, 2),
            "unit": "ratio",
            "note": "median of the rounds' ratios: "
            + " / ".join(f"{t[0] / i[0]:.2f}" for i, t in zip(inserts, triggers, strict=True))
            + f"; budget ≥ 0.5 {met(ratio >= 0.5)}",
        },
        {
            "name": "Events v2 trigger, acknowledged while the worker processes",
            "figure": round(busy_rps, 1),
            "unit": "requests/s",
            "note": f"{rounds(e[2] for e in ends)}; N={busy_ok}, errors={busy_err}; ratio "
            f"{busy_rps / insert_rps if insert_rps else 0:.2f}: web and worker share the 2 cores",
        },
        {
            "name": "Events v2 triggers → incidents, processing",
            "figure": round(drained / drain_s, 1) if drain_s else 0.0,
            "unit": "incidents/s",
            "note": f"the {drained} queued triggers drained in {drain_s:.1f} s by 1 worker",
        },
        {
            "name": "Events v2 triggers → incidents, end to end",
            "figure": round(e2e_rate, 1),
            "unit": "incidents/s",
            "note": f"{rounds(e[0] for e in ends)}, {SINGLE_REQUESTS // 2} new keys each, from "
            f"the first request to the last delivery processed{left(trigger_left)}",
        },
        {
            "name": "Events v2 triggers → incidents, end to end vs one-INSERT view",
            "figure": round(e2e_ratio, 3),
            "unit": "ratio",
            "note": "median of the rounds' ratios (incidents triaged, clock started, first pages "
            "queued, audited per s / the INSERT view's requests/s of the round before): "
            + " / ".join(f"{r:.3f}" for r in e2e_ratios)
            + f"; budget ≥ 0.25× {met(e2e_ratio >= 0.25)}",
        },
        {
            "name": "Events v2 repeat trigger (same dedup key), acknowledged",
            "figure": round(repeat_rps, 1),
            "unit": "requests/s",
            "note": f"deduplicated: repeat count only; all {repeat_ok} processed "
            f"{repeat_s:.1f} s after the first{left(repeat_left)}",
        },
        {
            "name": "Alertmanager 100-alert batches, acknowledged",
            "figure": round(batch_ack, 1),
            "unit": "alerts/s",
            "note": f"{rounds(ack for ack, _ in batch_rounds)} of {BATCHES} batches, "
            f"errors={batch_err}; budget ≥ 5,000 {met(batch_ack >= 5000)}",
        },
        {
            "name": "Alertmanager 100-alert batches, end to end",
            "figure": round(batch_e2e, 1),
            "unit": "alerts/s",
            "note": f"until every delivery was processed, {rounds(e for _, e in batch_rounds)}; "
            f"{stored_alerts} alerts stored{left(batch_left)}; "
            f"budget ≥ 5,000 {met(batch_e2e >= 5000)}",
        },
        {
            "name": "Alertmanager 100-alert batches, every group new, end to end",
            "figure": round(fresh_ok * BATCH_SIZE / fresh_s, 1) if fresh_s else 0.0,
            "unit": "alerts/s",
            "note": f"{fresh_incidents} incidents from {fresh_ok} batches (each its own groupKey, "
            f"storm rule off) in {fresh_s:.1f} s: "
            f"{fresh_incidents / fresh_s if fresh_s else 0:.1f} incidents/s, errors={fresh_err}"
            f"{left(fresh_left)}",
        },
        {
            "name": "storm of 10,000 alerts, one cause → incidents",
            "figure": storm_incidents,
            "unit": "incidents",
            "note": f"{storm_ok} groups of {BATCH_SIZE}, each its own groupKey, acknowledged in "
            f"{storm_s:.1f} s, processed in {storm_e2e_s:.1f} s, {storm_alerts} alerts stored, "
            f"errors={storm_err}{left(storm_left)}; budget ≤ {storm_budget} "
            f"{met(storm_incidents <= storm_budget)}",
        },
        {
            "name": "peak RSS of the Celery worker, 10,000-alert storms",
            "figure": round(storm_peak, 1),
            "unit": "MiB",
            "note": f"VmHWM after each of {STORMS} storms (its own integration each): "
            + " / ".join(f"{run[5]:.0f}" for run in storm_runs)
            + " MiB, RSS after each "
            + " / ".join(f"{run[6]:.0f}" for run in storm_runs)
            + " MiB, processed in "
            + " / ".join(f"{run[2]:.1f}" for run in storm_runs)
            + f" s; budget ≤ 150 MiB {met(storm_peak <= 150)}",
        },
        {
            "name": "Celery worker memory growth, storm 1 → 3",
            "figure": round(storm_growth, 1),
            "unit": "MiB",
            "note": f"VmHWM after the last storm minus after the first; budget ≤ 5 MiB "
            f"{met(storm_growth <= 5)}",
        },
        {
            "name": "deliveries not processed",
            "figure": failed,
            "unit": "deliveries",
            "note": "pending, failed or rejected at the end of the run (should be 0)",
        },
        {
            "name": "peak RSS per web worker",
            "figure": round(max(peaks), 1) if peaks else 0.0,
            "unit": "MiB",
            "note": "VmHWM, max of " + ", ".join(f"{p:.0f}" for p in peaks),
        },
        {
            "name": "peak RSS of the Celery worker",
            "figure": round(worker_peak, 1),
            "unit": "MiB",
            "note": "VmHWM, solo pool",
        },
    ]
