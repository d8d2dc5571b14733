"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) delivers to the live portal.

The Alertmanager configuration is the integration page's snippet as printed (only the route's
timers are shortened so the test runs in seconds); alerts are fired and resolved with ``amtool``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from incidents.choices import IncidentState
from incidents.models import Incident
from intake import services as intake_services
from intake.models import Alert, Delivery
from intake.views import alertmanager_snippet
from tests.intake.helpers import intake_worker_fixture  # noqa: F401 - processes after commit

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")

pytestmark = [
    pytest.mark.skipif(
        not (ALERTMANAGER and AMTOOL),
        reason="needs Prometheus Alertmanager and amtool (apt-get install prometheus-alertmanager)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.real_clock,  # Alertmanager checks startsAt against the machine's clock
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float = 40.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def alertmanager(live_server, tmp_path, intake_worker):
    integration, secret = intake_services.create_integration(name="Prometheus", kind="alertmanager")
    url = f"{live_server.url}/api/v1/integrations/alertmanager/"
    config = yaml.safe_load(alertmanager_snippet(url, secret))
    config["route"].update({"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"})
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, local binary
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("w"),
    )
    try:

        def ready():
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as r:  # noqa: S310
                    return r.status == 200
            except OSError:
                return False

        _wait(ready, 30, "Alertmanager to start")
        yield base, integration
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        print((tmp_path / "alertmanager.log").read_text()[-3000:])


def amtool(base: str, *args: str) -> None:
    subprocess.run(  # noqa: S603
        [AMTOOL, f"--alertmanager.url={base}", "alert", "add", *args],
        check=True,
        capture_output=True,
        timeout=30,
    )


def test_alertmanager_fires_and_resolves_incidents_through_the_snippet(alertmanager):
    base, integration = alertmanager
    start = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for host in ("db1", "db2"):
        amtool(
            base,
            "DiskFull",
            f"instance={host}",
            "severity=critical",
            f"--start={start}",
            f"--annotation=summary=Disk 95% full on {host}",
            "--generator-url=http://prometheus.example:9090/graph",
        )

    incident = _wait(
        lambda: Incident.objects.filter(alerts__isnull=False).distinct().first(),
        what="an incident from Alertmanager",
    )
    _wait(lambda: Alert.objects.filter(incident=incident).count() == 2, what="both alerts")
    assert Incident.objects.count() == 1  # one group (group_by alertname) → one incident
    incident.refresh_from_db()
    assert incident.priority == "P1"
    assert incident.title.startswith("DiskFull")
    assert incident.state == IncidentState.TRIAGED
    alert = Alert.objects.filter(incident=incident).first()
    assert alert.generator_url == "http://prometheus.example:9090/graph"

    # Resolve one alert: recorded, the incident stays open and unrecovered.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    amtool(
        base, "DiskFull", "instance=db1", "severity=critical", f"--start={start}", f"--end={now}"
    )
    _wait(
        lambda: Alert.objects.filter(incident=incident, status="resolved").count() == 1,
        what="the first resolution",
    )
    incident.refresh_from_db()
    assert incident.recovered_at is None

    # Resolve the other: every alert of the group resolved → recovered, never closed.
    amtool(
        base, "DiskFull", "instance=db2", "severity=critical", f"--start={start}", f"--end={now}"
    )

    def recovered():
        incident.refresh_from_db()
        return incident.state == IncidentState.VERIFYING

    _wait(recovered, what="the incident to be recovered")
    assert incident.recovered_at is not None and incident.closed_at is None
    assert Incident.objects.count() == 1
    deliveries = Delivery.objects.filter(integration=integration)
    assert deliveries.exists()
    assert {d.result for d in deliveries} <= {"processed", "dropped"}
    assert json.loads(deliveries.first().body)["version"] == "4"
