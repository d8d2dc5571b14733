"""A real Prometheus (Debian's ``prometheus``) scrapes the live portal with the token and
evaluates the shipped alert rules: an overdue escalation deadline fires EscalationSweepLagging.

The configuration is docs/prometheus/ as shipped, with the target, the token file and the
timings shortened (scrape and evaluation every second, ``for`` dropped) so it runs in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from incidents import services
from incidents.models import Incident

PROMETHEUS = shutil.which("prometheus")
FILES = Path(__file__).resolve().parents[2] / "docs" / "prometheus"
TOKEN = "scrape-token-for-the-test"
P3 = {"impact_scope": "some_users", "business_impact": "minor", "urgency": "immediate"}

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.real_clock,  # Prometheus scrapes and evaluates on the machine's clock
]


@pytest.fixture(autouse=True)
def _needs_prometheus():
    if PROMETHEUS:
        return
    if os.environ.get("CI"):
        pytest.fail("needs /usr/bin/prometheus (apt-get install prometheus): CI must run this test")
    pytest.skip("needs prometheus (apt-get install prometheus)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _api(base: str, path: str, **params) -> dict | None:
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local test server
            return json.load(response)["data"]
    except OSError:
        return None


@pytest.fixture
def prometheus(live_server, tmp_path, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []  # the scrape must get in by its token alone
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = yaml.safe_load((FILES / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config.pop("alerting")
    job = config["scrape_configs"][0]
    job["scheme"] = "http"
    job["authorization"]["credentials_file"] = str(tmp_path / "token")
    job["static_configs"] = [{"targets": [live_server.url.removeprefix("http://")]}]
    rules = yaml.safe_load((FILES / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, local binary
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        print((tmp_path / "prometheus.log").read_text()[-3000:])


def _target_up(base):
    targets = (_api(base, "/api/v1/targets") or {}).get("activeTargets", [])
    return targets and targets[0]["health"] == "up" and targets[0]


def _firing(base, name):
    alerts = (_api(base, "/api/v1/alerts") or {}).get("alerts", [])
    return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


def _value(base, query) -> float | None:
    result = (_api(base, "/api/v1/query", query=query) or {}).get("result", [])
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_with_the_token_and_fires_sweep_lagging(prometheus):
    target = _wait(lambda: _target_up(prometheus), what="the portal target to be up")
    assert target["lastError"] == ""
    assert _value(prometheus, 'itsm_escalation_sweep_lag_seconds{job="itsm-portal"}') == 0
    assert not _firing(prometheus, "EscalationSweepLagging")

    incident = services.open_incident(title="Checkout down", source="monitoring", **P3)
    Incident.objects.filter(pk=incident.pk).update(
        next_deadline_at=timezone.now() - timedelta(minutes=10)
    )

    alerts = _wait(
        lambda: _firing(prometheus, "EscalationSweepLagging"), what="EscalationSweepLagging"
    )
    assert alerts[0]["labels"]["severity"] == "critical"
    assert float(alerts[0]["value"]) >= 600
    assert _value(prometheus, 'itsm_incidents_open{priority="P3"}') == 1
    # The request histogram is labelled by view: the scrapes themselves are counted.
    assert _value(prometheus, 'itsm_http_request_duration_seconds_count{view="metrics"}') >= 1
