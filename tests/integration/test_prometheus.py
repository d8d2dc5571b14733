"""A real Prometheus (Debian's ``prometheus``) scrapes the live portal with the token and
evaluates the shipped alert rules: an overdue escalation deadline fires EscalationSweepLagging.
With a real Alertmanager configured from docs/prometheus/alertmanager.yml, that alert comes
back into the portal as an incident through its own Alertmanager integration.

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
from intake import services as intake_services
from tests.intake.helpers import intake_worker_fixture  # noqa: F401 - processes after commit

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
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


def _stop(process, log: Path) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    print(log.read_text()[-3000:])


@pytest.fixture
def alertmanager(live_server, tmp_path, intake_worker):
    """Alertmanager with the shipped example: the portal's integration secret in a file, the
    portal's URL, timers shortened, the email route's server a closed port."""
    if not ALERTMANAGER:
        if os.environ.get("CI"):
            pytest.fail("needs prometheus-alertmanager: CI must run this test")
        pytest.skip("needs prometheus-alertmanager (apt-get install prometheus-alertmanager)")
    _integration, secret = intake_services.create_integration(name="Portal", kind="alertmanager")
    (tmp_path / "itsm.secret").write_text(secret)
    config = yaml.safe_load((FILES / "alertmanager.yml").read_text())
    config["global"]["smtp_smarthost"] = f"127.0.0.1:{_free_port()}"
    config["route"].update({"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"})
    (itsm,) = [r for r in config["receivers"] if r["name"] == "itsm"]
    webhook = itsm["webhook_configs"][0]
    webhook["url"] = f"{live_server.url}/api/v1/integrations/alertmanager/"
    webhook["http_config"]["authorization"]["credentials_file"] = str(tmp_path / "itsm.secret")
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, local binary
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("w"),
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        _stop(process, tmp_path / "alertmanager.log")


@pytest.fixture
def prometheus(live_server, tmp_path, settings, request):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []  # the scrape must get in by its token alone
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = yaml.safe_load((FILES / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    if "alertmanager" in request.fixturenames:
        am = request.getfixturevalue("alertmanager")
        config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [am]}]
    else:
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
        _stop(process, tmp_path / "prometheus.log")


def _target_up(base):
    targets = (_api(base, "/api/v1/targets") or {}).get("activeTargets", [])
    return targets and targets[0]["health"] == "up" and targets[0]


def _firing(base, name):
    alerts = (_api(base, "/api/v1/alerts") or {}).get("alerts", [])
    return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


def _value(base, query) -> float | None:
    result = (_api(base, "/api/v1/query", query=query) or {}).get("result", [])
    return float(result[0]["value"][1]) if result else None


def _sample(base, query) -> tuple[float] | None:
    """The value in a tuple (truthy even when 0), or None while Prometheus has none."""
    value = _value(base, query)
    return None if value is None else (value,)


def test_prometheus_scrapes_with_the_token_and_fires_sweep_lagging(prometheus):
    target = _wait(lambda: _target_up(prometheus), what="the portal target to be up")
    assert target["lastError"] == ""
    # Prometheus marks the target up before it commits the scraped samples: wait for them.
    (lag,) = _wait(
        lambda: _sample(prometheus, 'itsm_escalation_sweep_lag_seconds{job="itsm-portal"}'),
        what="the first scrape's samples",
    )
    assert lag == 0
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


def test_the_portal_alert_comes_back_as_an_incident_through_alertmanager(alertmanager, prometheus):
    _wait(lambda: _target_up(prometheus), what="the portal target to be up")
    late = services.open_incident(title="Checkout down", source="monitoring", **P3)
    Incident.objects.filter(pk=late.pk).update(
        next_deadline_at=timezone.now() - timedelta(minutes=10)
    )
    incident = _wait(
        lambda: Incident.objects.filter(title__startswith="EscalationSweepLagging").first(),
        what="an incident opened by the portal's own alert",
    )
    assert incident.priority == "P1"  # severity=critical through the default mapping rules
