"""Configuration as code (issue 19 part 4): ``export_config`` / ``import_config``."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from intake import services as intake_services
from itsm.core.models import AuditEvent, Service, Team

pytestmark = pytest.mark.django_db


def export() -> str:
    out = StringIO()
    call_command("export_config", stdout=out)
    return out.getvalue()


def apply(tmp_path, text: str, *args) -> tuple[str, str]:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_config", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


TEAM_AND_SERVICE = """\
version: 1
teams:
- slug: sre
  name: SRE
  escalation_level: 1
services:
- slug: api
  name: Public API
  owner_team: sre
"""


def test_import_prints_the_diff_is_idempotent_and_a_dry_run_changes_nothing(tmp_path):
    out, _ = apply(tmp_path, TEAM_AND_SERVICE, "--dry-run")
    assert "+ teams/sre" in out and "+ services/api" in out and "Nothing was changed" in out
    assert not Team.objects.filter(slug="sre").exists()

    out, _ = apply(tmp_path, TEAM_AND_SERVICE)
    assert "Applied: 2 created" in out
    assert Service.objects.get(slug="api").owner_team.slug == "sre"
    out, _ = apply(tmp_path, TEAM_AND_SERVICE)
    assert out.startswith("No changes")

    renamed = TEAM_AND_SERVICE.replace("name: SRE", "name: Site reliability")
    out, _ = apply(tmp_path, renamed, "--dry-run")
    assert "~ teams/sre\n    name: SRE → Site reliability" in out
    assert Team.objects.get(slug="sre").name == "SRE"
    apply(tmp_path, renamed)
    assert Team.objects.get(slug="sre").name == "Site reliability"
    event = AuditEvent.objects.filter(action="config_update").get()
    assert event.actor_label == "import_config"


def test_an_invalid_file_is_refused_with_line_numbers_and_changes_nothing(tmp_path):
    text = """\
version: 1
teams:
- slug: sre
  name: SRE
services:
- slug: api
  name: Public API
  owner_team: nobody
  colour: blue
escalation-policies:
- name: Payments
  track: urgent
  levels:
  - level: 1
    target_role: pope
- name: Payments
  track: normal
"""
    with pytest.raises(CommandError, match="3 problem"):
        apply(tmp_path, text)
    err = _errors(tmp_path, text)
    assert "config.yaml:9: services/api.colour: unknown field" in err
    assert "config.yaml:15: escalation-policies/Payments.levels[0].target_role:" in err
    assert "config.yaml:16: escalation-policies/Payments: named twice in this file" in err
    assert not Team.objects.filter(slug="sre").exists()  # the valid part was not applied either

    without_unknown = text.replace("  colour: blue\n", "")
    assert "config.yaml:8: services/api.owner_team:" in _errors(tmp_path, without_unknown)


def _errors(tmp_path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_config", str(path), stdout=StringIO(), stderr=err)
    return err.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\nteams:\n- slug: sre\n  name: [unclosed\n",
            "config.yaml:5: document: not valid YAML",
        ),
        ("- just\n- a list\n", "config.yaml:1: document: expected a mapping"),
        ("version: 2\n", "config.yaml:1: version: expected 1"),
        ("version: 1\nsquads: []\n", "config.yaml:2: squads: unknown section"),
        (
            "version: 1\nteams:\n- name: No slug\n",
            "config.yaml:3: teams[0]: missing key field(s): slug",
        ),
    ],
)
def test_malformed_documents_name_the_line(tmp_path, text, expected):
    assert expected in _errors(tmp_path, text)


def test_prune_deletes_only_what_the_named_sections_leave_out(tmp_path):
    apply(tmp_path, TEAM_AND_SERVICE)
    Team.objects.create(slug="old", name="Old team")
    only_teams = "version: 1\nteams:\n- slug: sre\n  name: SRE\n  escalation_level: 1\n"
    out, _ = apply(tmp_path, only_teams)
    assert "1 not in the file were kept" in out and Team.objects.filter(slug="old").exists()
    out, _ = apply(tmp_path, only_teams, "--prune")
    assert "- teams/old" in out
    assert not Team.objects.filter(slug="old").exists()
    assert Service.objects.filter(slug="api").exists()  # its section is not in the file


def test_secrets_are_never_exported(admin_user):
    integration, secret = intake_services.create_integration(name="Prometheus", actor=admin_user)
    text = export()
    assert "Prometheus" in text
    for leaked in (
        secret,
        integration.secret_prefix,
        integration.secret_digest,
        admin_user.password,
    ):
        assert leaked not in text
    assert "password" not in text and "secret" not in text.split("\n", 2)[2]


@pytest.mark.real_clock
def test_the_demo_configuration_round_trips_byte_identical_through_an_empty_database(tmp_path):
    """export (demo data) → import into an empty, migrated database → export: the same bytes."""
    call_command("seed_demo", stdout=StringIO())
    first = export()
    assert "escalation-policies:" in first and "backup-policies:" in first
    (tmp_path / "config.yaml").write_text(first, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ITSM_TEST_NOW")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/empty.sqlite3"
    env["DJANGO_SETTINGS_MODULE"] = "itsm.settings"

    def manage(*args) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    applied = manage("import_config", str(tmp_path / "config.yaml"))
    assert "created" in applied and "New secret for integrations/" in applied
    assert manage("export_config") == first
    assert manage("import_config", str(tmp_path / "config.yaml")).startswith("No changes")


def test_the_diff_names_the_changed_rows_of_a_policy(tmp_path):
    policy = """\
version: 1
escalation-policies:
- name: Payments
  track: urgent
  levels:
  - level: 1
    delay_minutes: 0
  - level: 2
    after_level: 1
    delay_minutes: 15
"""
    apply(tmp_path, policy)
    changed = policy.replace("delay_minutes: 15", "delay_minutes: 10") + (
        "  - level: 3\n    after_level: 2\n    delay_minutes: 30\n"
    )
    out, _ = apply(tmp_path, changed, "--dry-run")
    assert "    levels[1].delay_minutes: 15 → 10" in out
    assert "    levels[2]: + {level: 3," in out
