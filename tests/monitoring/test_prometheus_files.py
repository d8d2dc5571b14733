"""The shipped docs/prometheus/ files are valid for the real tools (this is the CI check)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

FILES = Path(__file__).resolve().parents[2] / "docs" / "prometheus"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    message = f"needs {name} (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must check the shipped Prometheus files")
    pytest.skip(message)


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_the_alert_rules_are_valid():
    out = run(tool("promtool", "prometheus"), "check", "rules", str(FILES / "rules.yml"))
    assert "SUCCESS: 7 rules found" in out


def test_the_alert_rules_pass_their_unit_tests():
    out = run(tool("promtool", "prometheus"), "test", "rules", str(FILES / "rules.test.yml"))
    assert "SUCCESS" in out


def test_every_alert_the_docs_promise_exists():
    rules = yaml.safe_load((FILES / "rules.yml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "EscalationSweepLagging",
        "IntakeBacklog",
        "NotificationFailures",
        "WorkerDown",
    } <= names


def test_the_scrape_config_is_valid(tmp_path):
    # The example points at /etc/prometheus/…; promtool wants the token and rule files to exist.
    config = yaml.safe_load((FILES / "prometheus.yml").read_text())
    token = tmp_path / "itsm-metrics.token"
    token.write_text("token\n")
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    job["authorization"]["credentials_file"] = str(token)
    shutil.copy(FILES / "rules.yml", tmp_path / "rules.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    out = run(tool("promtool", "prometheus"), "check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS" in out


def test_the_alertmanager_example_is_valid():
    out = run(
        tool("amtool", "prometheus-alertmanager"),
        "check-config",
        str(FILES / "alertmanager.yml"),
    )
    assert "SUCCESS" in out
