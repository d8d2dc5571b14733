"""Offline and tidy (issue 14, part 12): a favicon on every page, the Redoc bundle without its CDN
logo, notification links on the port the portal is served on."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_every_page_names_the_favicon_and_favicon_ico_leads_to_it(client, operator):
    client.force_login(operator)
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").content.decode()
    assert finders.find("favicon.svg")
    response = client.get("/favicon.ico")  # asked for by pages that name none (admin, API docs)
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # a real ICO


@pytest.mark.django_db
def test_redoc_loads_a_bundle_that_asks_no_cdn(client):
    html = client.get("/api/redoc/").content.decode()
    assert '<script src="/api/redoc/redoc.standalone.js">' in html
    response = client.get("/api/redoc/redoc.standalone.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    bundle = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"Redoc" in bundle
    assert b"cdn.redoc.ly" not in bundle


def _site_url(**env) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT"}}
    environment.update(DJANGO_SETTINGS_MODULE="itsm.settings", **env)
    code = "from django.conf import settings; print(settings.SITE_URL)"
    result = subprocess.run(  # noqa: S603 - our own settings module, fixed arguments
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_site_url_defaults_to_the_served_port():
    assert _site_url() == "http://127.0.0.1:8000"
    assert _site_url(PORT="8100") == "http://127.0.0.1:8100"
    assert _site_url(PORT="8100", SITE_URL="https://itsm.example.com") == "https://itsm.example.com"


@pytest.mark.skipif(not shutil.which("make"), reason="needs GNU make")
def test_make_run_gives_the_worker_the_web_address():
    """honcho gives each process its own PORT (the worker gets PORT+100): `make run` exports the
    web's address as SITE_URL, which the worker's notification links use."""
    environment = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT"}}
    result = subprocess.run(  # noqa: S603, S607 - make on our own Makefile
        ["make", "-s", "--no-print-directory", "--eval", "site-url: ; @echo $$SITE_URL"]
        + ["site-url", "PORT=8100"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "http://127.0.0.1:8100", result.stderr
