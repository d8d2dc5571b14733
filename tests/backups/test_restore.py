"""``manage.py restore_backup``: checksum first, decrypt, restore — and never without consent."""

import io
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from backups import restore, services
from backups.choices import Method, TargetKind
from backups.models import BackupJob, BackupPolicy
from itsm.core.models import AuditEvent

from .factories import BackupPolicyFactory, StorageLocationFactory

State = BackupJob.State
KEY = "correct horse battery staple"
# A few tables of different apps whose row counts must survive the round trip.
TABLES = ["core_user", "backups_backuppolicy", "backups_backupjob", "django_migrations"]

executor_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="embedded mode (SQLite)")


class Terminal(io.StringIO):
    """A stdin that answers the prompt like a person at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def portal_policy(tmp_path):
    policy, _ = BackupPolicy.objects.get_or_create(
        slug="portal-database",
        defaults={
            "name": "portal",
            "target_kind": TargetKind.PORTAL_DATABASE,
            "method": Method.FULL,
            "retention_count": 7,
            "rpo_minutes": 1440,
        },
    )
    policy.locations.set([StorageLocationFactory(path=str(tmp_path / "store"))])
    return policy


@pytest.fixture
def encrypted_backup(portal_policy, monkeypatch, make_user):
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", KEY)
    make_user("operator", username="restore-witness")
    job = services.run_portal_backup(portal_policy)
    assert job.state == State.VERIFIED and job.encrypted, job.error
    return job


def _counts_here() -> dict:
    with connection.cursor() as cursor:
        counts = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts[table] = cursor.fetchone()[0]
    return counts


def _counts_sqlite(path: Path) -> dict:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608
    finally:
        db.close()


def _restore(job, into, **kwargs):
    out = io.StringIO()
    call_command("restore_backup", job.number, into=into, stdout=out, **kwargs)
    return out.getvalue()


# --- confirmation ----------------------------------------------------------------------------


@executor_db
def test_restore_without_a_terminal_and_without_yes_is_refused(
    encrypted_backup, tmp_path, monkeypatch
):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # CI: no terminal
    target = tmp_path / "scratch.sqlite3"
    with pytest.raises(CommandError, match="without confirmation"):
        _restore(encrypted_backup, f"sqlite:///{target}")
    assert not target.exists()


@executor_db
def test_restore_is_refused_unless_the_job_number_is_typed(encrypted_backup, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    target = tmp_path / "scratch.sqlite3"
    with pytest.raises(CommandError, match="Not confirmed"):
        _restore(encrypted_backup, f"sqlite:///{target}")
    assert not target.exists()


@sqlite_only
@executor_db
def test_typing_the_job_number_confirms_the_restore(encrypted_backup, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal(f"{encrypted_backup.number.lower()}\n"))
    target = tmp_path / "scratch.sqlite3"
    output = _restore(encrypted_backup, f"sqlite:///{target}")
    assert "checksum ok" in output and f"Restored {encrypted_backup.number}" in output
    assert target.exists()


# --- the archive is checked before anything is touched ----------------------------------------


@executor_db
def test_a_corrupted_archive_is_refused_before_the_prompt(encrypted_backup, tmp_path):
    archive = Path(encrypted_backup.archive_path)
    with archive.open("r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02\x03")
    target = tmp_path / "scratch.sqlite3"
    with pytest.raises(CommandError, match="checksum does not match"):
        _restore(encrypted_backup, f"sqlite:///{target}", yes=True)
    assert not target.exists()


@executor_db
def test_a_second_intact_copy_is_used_when_the_first_is_missing(encrypted_backup, tmp_path):
    first = Path(encrypted_backup.archive_path)
    second = tmp_path / "offsite" / first.name
    second.parent.mkdir()
    shutil.copyfile(first, second)
    first.unlink()
    BackupJob.objects.filter(pk=encrypted_backup.pk).update(archive_path=f"{first}\n{second}")
    encrypted_backup.refresh_from_db()
    assert restore.verified_archive(encrypted_backup) == second


@executor_db
def test_an_encrypted_backup_needs_the_key(encrypted_backup, tmp_path, monkeypatch):
    target = tmp_path / "scratch.sqlite3"
    monkeypatch.delenv("BACKUP_ENCRYPTION_KEY")
    with pytest.raises(CommandError, match="set BACKUP_ENCRYPTION_KEY"):
        _restore(encrypted_backup, f"sqlite:///{target}", yes=True)
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", "not the key")
    with pytest.raises(CommandError, match="wrong key"):
        _restore(encrypted_backup, f"sqlite:///{target}", yes=True)
    assert not target.exists()


@sqlite_only
@executor_db
def test_a_sqlite_backup_cannot_go_into_postgresql(encrypted_backup):
    pg = {"ENGINE": "django.db.backends.postgresql", "NAME": "elsewhere"}
    with pytest.raises(restore.RestoreFailed, match="cannot go into postgresql"):
        restore.restore_portal_backup(encrypted_backup, target=pg)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "archive", "checksum", "message"),
    [
        (State.FAILED, "/x", "sha256:ab", "only a succeeded or verified"),
        (State.SUCCEEDED, "", "sha256:ab", "no archive on this host"),
        (State.SUCCEEDED, "/x", "md5:ab", "no SHA-256 checksum"),
        (State.SUCCEEDED, "/nonexistent/BKP.enc", "sha256:ab", "missing"),
    ],
)
def test_jobs_without_a_restorable_archive_are_refused(state, archive, checksum, message):
    job = BackupJob.objects.create(
        policy=BackupPolicyFactory(), state=state, archive_path=archive, checksum=checksum
    )
    with pytest.raises(CommandError, match=message):
        call_command("restore_backup", job.number, yes=True, stdout=io.StringIO())


@pytest.mark.django_db
def test_an_unknown_job_or_a_bad_target_url_is_refused():
    with pytest.raises(CommandError, match="No backup job BKP-999999"):
        call_command("restore_backup", "BKP-999999", yes=True)
    job = BackupJob.objects.create(
        policy=BackupPolicyFactory(), state=State.SUCCEEDED, archive_path="/x", checksum="sha256:a"
    )
    with pytest.raises(CommandError, match="unsupported database URL"):
        call_command("restore_backup", job.number, into="mysql://db/x", yes=True)


# --- round trips --------------------------------------------------------------------------------


@sqlite_only
@executor_db
def test_encrypted_sqlite_backup_restores_into_a_scratch_file_with_the_same_rows(
    encrypted_backup, tmp_path, make_user
):
    at_backup = _counts_here()
    make_user("operator", username="after-the-backup")  # not in the backup
    target = tmp_path / "scratch.sqlite3"
    output = _restore(encrypted_backup, f"sqlite:///{target}", yes=True)
    assert f"Restored {encrypted_backup.number} into sqlite:///{target}" in output
    assert _counts_sqlite(target) == at_backup
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch.sqlite3", "store"]
    assert _counts_here()["core_user"] == at_backup["core_user"] + 1
    event = AuditEvent.objects.get(action="restored", object_id=str(encrypted_backup.pk))
    assert event.data["target"] == f"sqlite:///{target}"


@sqlite_only
@executor_db
def test_restoring_over_an_existing_sqlite_file_keeps_the_old_one_and_drops_its_wal(
    encrypted_backup, tmp_path
):
    target = tmp_path / "itsm.sqlite3"
    old = sqlite3.connect(target)
    old.execute("CREATE TABLE stale (x)")
    old.commit()
    old.close()
    Path(f"{target}-wal").write_bytes(b"stale wal")
    output = _restore(encrypted_backup, f"sqlite:///{target}", yes=True)
    assert "previous database kept at" in output
    assert not Path(f"{target}-wal").exists()
    (previous,) = tmp_path.glob("itsm.sqlite3.before-restore-*[0-9]")
    assert Path(f"{previous}-wal").read_bytes() == b"stale wal"
    tables = {r[0] for r in sqlite3.connect(target).execute("SELECT name FROM sqlite_master")}
    assert "stale" not in tables and "backups_backupjob" in tables


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.fixture
def scratch_postgres():
    """An empty scratch database on the test server, dropped afterwards; yields its URL."""
    import psycopg2

    db = connection.settings_dict
    name = f"itsm_restore_{uuid.uuid4().hex[:10]}"
    params = {
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
    }
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
    url = f"postgres://{auth}{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{name}"
    yield url, (lambda: psycopg2.connect(dbname=name, **params))
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.mark.postgres
@executor_db
def test_encrypted_pg_dump_restores_into_a_scratch_database_with_the_same_rows(
    encrypted_backup, scratch_postgres, make_user
):
    if not shutil.which("pg_restore"):
        pytest.skip("needs the PostgreSQL client tools")
    url, connect = scratch_postgres
    at_backup = _counts_here()
    make_user("operator", username="after-the-backup")
    output = _restore(encrypted_backup, url, yes=True)
    assert f"Restored {encrypted_backup.number}" in output
    # --clean --if-exists: restoring again over the restored tables works too.
    _restore(encrypted_backup, url, yes=True)
    scratch = connect()
    try:
        with scratch.cursor() as cursor:
            restored = {}
            for table in TABLES:
                cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
                restored[table] = cursor.fetchone()[0]
    finally:
        scratch.close()
    assert restored == at_backup
    assert _counts_here()["core_user"] == at_backup["core_user"] + 1


@pytest.mark.postgres
@executor_db
def test_restore_into_a_missing_postgresql_database_fails_cleanly(encrypted_backup):
    if not shutil.which("pg_restore"):
        pytest.skip("needs the PostgreSQL client tools")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/no_such_db_x"
    with pytest.raises(CommandError, match="Restore failed, target unchanged: pg_restore failed"):
        _restore(encrypted_backup, url, yes=True)
