"""A real OpenID Connect provider (npm ``oidc-provider``, tests/sso/oidc_provider.mjs) for the tests.

``oidc_settings`` (Django test client) and ``oidc_browser_settings`` (live server) start it with
``node`` on a free port, with alice and bob in an accounts file the test can rewrite
(``provider.set_groups("alice", [...])``), and point the portal at it through discovery
(``OIDC_ISSUER``). Without node or the package the tests are skipped locally
and fail under CI (``CI`` set): the real provider is the point of these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

BASE_DIR = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
PACKAGE = BASE_DIR / "node_modules" / "oidc-provider" / "package.json"
NODE = shutil.which("node")

CLIENT_ID = "itsm-portal"
CLIENT_SECRET = "itsm-secret"  # noqa: S105 - the test provider's client
PROVIDER_NAME = "Test IdP"
ACCOUNTS = {
    "alice": {
        "password": "alice-pass",
        "email": "alice@example.com",
        "name": "Alice Liddell",
        "groups": ["itsm-operators"],
    },
    "bob": {
        "password": "bob-pass",
        "email": "bob@example.com",
        "name": "Bob Builder",
        "groups": [],
    },
}
ROLE_MAP = {"itsm-operators": ["operator"], "itsm-leaders": ["ops_leader"]}
TEAM_MAP = {"itsm-operators": ["network"], "itsm-leaders": ["network", "leaders"]}


def require_provider() -> None:
    if NODE and PACKAGE.exists():
        return
    reason = "needs node and the npm package oidc-provider (npm ci)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: missing under CI", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Provider:
    issuer: str
    accounts_file: Path
    log_file: Path

    def set_groups(self, username: str, groups: list[str]) -> None:
        self.set_account(username, groups=groups)

    def set_account(self, username: str, **fields) -> None:
        accounts = json.loads(self.accounts_file.read_text())
        accounts[username].update(fields)
        self.accounts_file.write_text(json.dumps(accounts))

    def log(self) -> str:
        return self.log_file.read_text()


def sign_in_at_provider(location: str, login: str, password: str, *, cancel: bool = False) -> str:
    """Drive the provider's pages with plain HTTP from the authorization request to the redirect
    back to the portal (what a browser does); returns that redirect's URL."""
    session = requests.Session()
    provider = urlsplit(location).netloc
    url = location
    for _ in range(10):
        if urlsplit(url).netloc != provider:
            return url
        response = session.get(url, allow_redirects=False, timeout=10)
        if response.status_code == 200 and "/interaction/" in url:
            uid = urlsplit(url).path.rsplit("/", 1)[-1]
            action = "abort" if cancel else "login"
            response = session.post(
                urljoin(url, f"/interaction/{uid}/{action}"),
                data={"login": login, "password": password},
                allow_redirects=False,
                timeout=10,
            )
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("the provider never sent the browser back")


@contextmanager
def running_provider(tmp_path: Path, portals: list[str]) -> Iterator[Provider]:
    """The provider on a free port, its client registered for the ``portals`` base URLs."""
    require_provider()
    port = free_port()
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS))
    log = tmp_path / "oidc-provider.log"
    environment = {
        **os.environ,
        "OIDC_TEST_ACCOUNTS": str(accounts),
        "OIDC_TEST_REDIRECT_URIS": ",".join(f"{p}/oidc/callback/" for p in portals),
        "OIDC_TEST_LOGOUT_URIS": ",".join(f"{p}/accounts/login/" for p in portals),
    }
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, local script
        [NODE, str(SCRIPT), str(port)],
        cwd=BASE_DIR,
        env=environment,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while "ready" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"oidc-provider did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Provider(f"http://127.0.0.1:{port}", accounts, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def configure(settings, issuer: str) -> None:
    """The portal's OpenID Connect settings, pointing at ``issuer`` through discovery."""
    from itsm.core import oidc

    oidc._discovered.clear()  # each test's provider has its own port, so its own issuer
    settings.OIDC_ISSUER = issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = PROVIDER_NAME
    settings.OIDC_GROUP_ROLES = ROLE_MAP
    settings.OIDC_GROUP_TEAMS = TEAM_MAP
    settings.AUTHENTICATION_BACKENDS = [
        "itsm.core.oidc.OIDCBackend",
        "itsm.core.backends.AccountBackend",
    ]


@pytest.fixture(name="oidc_settings")
def oidc_settings_fixture(settings, tmp_path):
    """The provider for the Django test client (``http://testserver``)."""
    with running_provider(tmp_path, ["http://testserver"]) as provider:
        configure(settings, provider.issuer)
        yield provider


@pytest.fixture(name="oidc_browser_settings")
def oidc_browser_settings_fixture(settings, tmp_path, live_server):
    """The provider for a real browser on the live server."""
    with running_provider(tmp_path, [live_server.url]) as provider:
        configure(settings, provider.issuer)
        yield provider
