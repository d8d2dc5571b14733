"""Production settings pass Django's deployment checklist; secrets come only from the environment."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(tmp_path, *args, **env):
    environment = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            # Set by the browser fixture for the live server; never in a deployment.
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="itsm.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        **env,
    )
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_under_production_settings_has_no_warnings(tmp_path):
    result = _manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        ITSM_PRODUCTION="1",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="itsm.example.com",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage(tmp_path, "check", ITSM_PRODUCTION="1", ALLOWED_HOSTS="itsm.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_seed_demo_refuses_to_run_in_production(tmp_path):
    result = _manage(
        tmp_path,
        "seed_demo",
        ITSM_PRODUCTION="1",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="itsm.example.com",
    )
    assert result.returncode != 0
    assert "never runs with ITSM_PRODUCTION=1" in result.stderr


def test_a_worker_process_leaves_what_it_loaded_at_start_out_of_garbage_collection():
    """Issue 20: an escalation sweep's collections no longer walk the loaded code
    (``itsm.celery.freeze_loaded_objects``, connected to Celery's worker start signals)."""
    import gc

    from celery.signals import worker_process_init

    import itsm.celery  # noqa: F401 - connects the receivers

    gc.unfreeze()  # a Celery test worker started earlier in this process froze it already
    assert gc.get_freeze_count() == 0
    try:
        worker_process_init.send(sender=None)  # what each process of a prefork pool gets
        assert gc.get_freeze_count() > 10_000  # Django and the apps
    finally:
        gc.unfreeze()
