"""Shared fixtures: users per role, API clients, and a real Chromium for browser tests."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from itsm.core.models import ApiToken
from itsm.core.roles import Role

from .factories import UserFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
JST = ZoneInfo("Asia/Tokyo")


def pytest_configure(config):
    """``ITSM_TEST_NOW=2026-12-09T15:23:00+09:00`` runs the whole suite on that day: the clock
    starts there and ticks (CI runs the suite once on a Wednesday afternoon and once on a Sunday,
    so a test that passes or fails by the day it runs shows up)."""
    start = os.environ.get("ITSM_TEST_NOW")
    if not start:
        return
    import time_machine

    moment = datetime.fromisoformat(start)
    if moment.tzinfo is None:
        raise pytest.UsageError("ITSM_TEST_NOW needs a UTC offset, e.g. 2026-12-09T15:23:00+09:00")
    config._itsm_clock = time_machine.travel(moment, tick=True)
    config._itsm_clock.start()


@pytest.fixture(autouse=True)
def _real_clock(request):
    """Tests marked ``real_clock`` talk to processes that keep the machine's time (a real
    Alertmanager, a Celery worker in a subprocess): under ITSM_TEST_NOW they run on the real clock,
    and the suite's clock then carries on from where it was."""
    config = request.config
    clock = getattr(config, "_itsm_clock", None)
    if clock is None or request.node.get_closest_marker("real_clock") is None:
        yield
        return
    import time

    import time_machine

    shifted = datetime.now(JST)
    clock.stop()
    started = time.time()
    try:
        yield
    finally:
        resumed = shifted + timedelta(seconds=time.time() - started)
        config._itsm_clock = time_machine.travel(resumed, tick=True)
        config._itsm_clock.start()


def pytest_report_header(config):
    if getattr(config, "_itsm_clock", None) is not None:
        return f"clock: the suite runs from {os.environ['ITSM_TEST_NOW']} (ITSM_TEST_NOW)"
    return None


def pytest_unconfigure(config):
    if getattr(config, "_itsm_clock", None) is not None:
        config._itsm_clock.stop()


def pytest_collection_modifyitems(config, items):
    """Skip, with a visible reason, tests whose real service is not configured."""
    db_engine = settings.DATABASES["default"]["ENGINE"]
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://…")
    skip_browser = pytest.mark.skip(
        reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    )
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            # Browser tests run against live_server (transactional); serialized rollback puts back
            # the rows seeded by data migrations for the tests that follow them.
            item.add_marker(
                pytest.mark.django_db(transaction=True, serialized_rollback=True), append=False
            )
        if "postgres" in item.keywords and "postgresql" not in db_engine:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)
        if "e2e" in item.keywords and not shutil.which(CHROMIUM):
            item.add_marker(skip_browser)


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path_factory):
    """Files a test stores (attachments) go to a temporary MEDIA_ROOT, never to var/media."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def _fresh_business_calendar():
    """``current_calendar()`` is cached per process; a rolled-back test must not leak its rows."""
    from itsm.core import business_calendar

    business_calendar._loaded.clear()
    yield
    business_calendar._loaded.clear()


@pytest.fixture(autouse=True)
def _fresh_incident_config():
    """The incident configuration is cached per process (``incidents.config_cache``); a
    rolled-back test must not leak its rows, nor rows it changed with a queryset update."""
    from incidents import config_cache

    config_cache._loaded.clear()
    yield
    config_cache._loaded.clear()


@pytest.fixture(autouse=True)
def _fresh_throttles(monkeypatch):
    """Each test starts with no API throttle history and no failed logins counted.

    DRF's throttles, the login throttle and the status pages' limits keep counters in the cache, which outlives a test;
    without this, anonymous requests made by earlier tests would turn later ones into 429s.
    """
    from django.core.cache.backends.locmem import LocMemCache
    from rest_framework.throttling import SimpleRateThrottle

    from comms import public as status_pages
    from itsm.core import views as core_views

    fresh = LocMemCache(f"throttles-{id(monkeypatch)}", {})
    monkeypatch.setattr(SimpleRateThrottle, "cache", fresh)
    monkeypatch.setattr(core_views, "cache", fresh)
    monkeypatch.setattr(status_pages, "cache", fresh)
    yield
    fresh.clear()


@pytest.fixture
def demo_clock():
    """The moment the demo once failed at: Thursday 15:23:58 JST, seconds before a normal change's
    3-business-day lead time would have ended on a calendar-day plan (issue 13). Frozen."""
    import time_machine

    with time_machine.travel(datetime(2026, 12, 10, 15, 23, 58, tzinfo=JST), tick=False) as clock:
        yield clock


@pytest.fixture
def make_user(db):
    def make(role: Role | str | None = Role.OPERATOR, **kwargs):
        return UserFactory(role=role, **kwargs)

    return make


@pytest.fixture
def operator(make_user):
    return make_user(Role.OPERATOR, username="op")


@pytest.fixture
def ops_leader(make_user):
    return make_user(Role.OPS_LEADER, username="leader")


@pytest.fixture
def ops_manager(make_user):
    return make_user(Role.OPS_MANAGER, username="manager")


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN, username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def api_as(db):
    """``api_as(user)`` → an APIClient authenticated with a fresh Bearer token of that user."""

    def make(user, scope=ApiToken.Scope.WRITE):
        _token, raw = ApiToken.issue(user, name="test", scope=scope)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    serialized = _serialized_contents()
    with sync_playwright() as p:
        # Playwright's event loop gives this thread a new context, and with it new database
        # connection objects: carry the snapshot that serialized rollback restores from.
        _keep_serialized_contents(serialized)
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def _serialized_contents() -> dict:
    from django.db import connections

    return {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }


_SNAPSHOT: dict = {}


def _keep_serialized_contents(contents: dict) -> None:
    from django.db import connections

    _SNAPSHOT.update(contents)
    for alias, value in _SNAPSHOT.items():
        if not hasattr(connections[alias], "_test_serialized_contents"):
            connections[alias]._test_serialized_contents = value


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    _keep_serialized_contents({})
    context.close()


@pytest.fixture
def login(page, live_server):
    """``login(user)`` signs in through the real login form."""

    def do(user, password="pass-1234!"):
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.locator("form button[type=submit]").first.click()
        page.wait_for_load_state()
        return page

    return do


# ---------------------------------------------------------------------------- real Celery


def _reset_broker_connections(app) -> None:
    """Forget pooled broker connections (after the broker URL changed or the broker died)."""
    from kombu import pools

    from itsm.core import notifications

    notifications._broker_down_until = 0.0  # forget a broker outage seen by an earlier test
    pools.reset()  # kombu keeps connection/producer pools per URL in process-wide registries
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_app(settings):
    """The portal's Celery app, sending to the Redis of REDIS_URL (tests marked ``redis``)."""
    from itsm.celery import app

    app.conf.task_always_eager = False
    _reset_broker_connections(app)
    yield app
    _reset_broker_connections(app)


@pytest.fixture
def celery_worker(celery_app, transactional_db):
    """A real Celery worker consuming from Redis in a thread of the test process (so it shares
    time-machine's clock); the database is real (transactional, committed rows)."""
    from celery.contrib.testing.worker import start_worker

    celery_app.connection_for_write().default_channel.client.flushdb()
    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as worker:
        yield worker


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {predicate}")
