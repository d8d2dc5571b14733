"""Take docs/screenshot.png: the home page after signing in as the demo operator.

Runs the portal on a throw-away SQLite database with the demo data (migrate + seed_demo),
signs in through the real login form in Debian's Chromium and saves the page.

    .venv/bin/python bench/screenshot.py [--user operator] [--lang ja] [--out docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="operator")
    parser.add_argument("--lang", default="ja", choices=["ja", "en"])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="itsm-screenshot-"))
    password = os.environ.get("DEMO_PASSWORD", "itsm-demo")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "itsm.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'demo.sqlite3'}",
        "DEBUG": "1",
        "ITSM_PRODUCTION": "0",
        "DEMO_PASSWORD": password,
    }
    env.pop("REDIS_URL", None)
    (ROOT / "var" / "broker" / "queue").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "broker" / "processed").mkdir(parents=True, exist_ok=True)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True)

    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context(
                locale="ja-JP" if args.lang == "ja" else "en-US",
                viewport={"width": 1280, "height": 800},
                base_url=base,
            )
            page = context.new_page()
            page.goto("/accounts/login/")
            page.fill("#id_username", args.user)
            page.fill("#id_password", password)
            page.locator("form button[type=submit]").first.click()
            page.wait_for_selector("h1")
            if "/accounts/login/" in page.url:
                raise SystemExit(f"could not sign in as {args.user!r}")
            page.screenshot(path=args.out, full_page=False)
            browser.close()
        print(f"wrote {args.out}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
