"""/metrics under real gunicorn with several workers (the production web, docs/monitoring.md):
gunicorn.conf.py turns on prometheus_client's multiprocess mode, so whichever worker answers
the scrape reports the requests every worker served."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_escalation_reliability import ROOT, process_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.real_clock,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local server
        return response.read().decode()


def _healthz_count(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "itsm_http_request_duration_seconds_count"
                and sample.labels.get("view") == "healthz"
            ):
                total += sample.value
    return total


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    env = {
        **process_env(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "multiproc"),
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    (tmp_path / "multiproc").mkdir()
    (tmp_path / "multiproc" / "counter_stale.db").write_bytes(b"left over from a previous run")
    process = subprocess.Popen(  # noqa: S603
        # Each worker is replaced after 5 requests, so the 30 below are served by at least six
        # processes whatever the kernel's choice of acceptor: some of them are gone by the
        # scrape, and their figures must still count.
        [
            gunicorn,
            "itsm.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--max-requests",
            "5",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "gunicorn.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError((tmp_path / "gunicorn.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield base, tmp_path / "multiproc"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_every_scrape_counts_the_requests_of_all_gunicorn_workers(gunicorn):
    base, folder = gunicorn
    assert not (folder / "counter_stale.db").exists()  # emptied when gunicorn started
    start = _healthz_count(_get(f"{base}/metrics"))
    for _ in range(30):
        _get(f"{base}/healthz")
    # Whichever worker answers, it reports all 30, those of replaced workers included.
    counts = {_healthz_count(_get(f"{base}/metrics")) - start for _ in range(6)}
    assert counts == {30.0}
    assert len(list(folder.glob("histogram_*.db"))) >= 6  # one file per process that served
