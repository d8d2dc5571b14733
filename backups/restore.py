"""Restoring the portal's own database from a backup job of the built-in executor (§11.3).

Use cases:
- ``verified_archive(job)``: the first copy of the job's archive whose SHA-256 matches the
  checksum recorded at backup time (a copy that does not match is never restored).
- ``restore_portal_backup(job, target=…)``: decrypt the archive with ``BACKUP_ENCRYPTION_KEY``
  when it is encrypted, then put it in place: SQLite by copying the file into place (the old
  file and its WAL are kept beside it), PostgreSQL with ``pg_restore --clean --if-exists`` in a
  single transaction (a failure leaves the target as it was).

Restoring over the portal's live database needs the portal stopped (web, worker, beat): a
process still connected would keep writing to the replaced SQLite file, or block and then
overwrite the restored PostgreSQL tables.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import environ
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from itsm.core.audit import record_event

from . import crypto
from .models import BackupJob
from .services import _binary, _sha256

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
log = logging.getLogger(__name__)

ENGINES = {"django.db.backends.sqlite3": "sqlite", "django.db.backends.postgresql": "postgresql"}


class RestoreFailed(RuntimeError):
    pass


@dataclass
class RestoreResult:
    job: BackupJob
    archive: Path
    target: str
    engine: str
    size_bytes: int
    checksum_seconds: float
    restore_seconds: float
    previous: Path | None = None

    @property
    def seconds(self) -> float:
        return self.checksum_seconds + self.restore_seconds


def target_database(url: str | None = None) -> dict:
    """The connection settings to restore into: ``url`` (a DATABASE_URL) or the portal's own."""
    if not url:
        return dict(settings.DATABASES["default"])
    try:
        db = environ.Env.db_url_config(url)
    except Exception as exc:  # noqa: BLE001 - django-environ raises several types
        raise RestoreFailed(f"not a database URL: {url!r} ({exc})") from exc
    if db.get("ENGINE") not in ENGINES or not db.get("NAME"):
        raise RestoreFailed(f"unsupported database URL {url!r}: use sqlite:/// or postgres://")
    return db


def describe(db: dict) -> str:
    """The target without its password, for prompts, logs and the audit trail."""
    if ENGINES.get(db["ENGINE"]) == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = f"{db['USER']}@" if db.get("USER") else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{user}{host}{port}/{db['NAME']}"


def is_portal_database(db: dict) -> bool:
    own = settings.DATABASES["default"]
    keys = ("ENGINE", "NAME", "HOST", "PORT")
    return all(str(db.get(k) or "") == str(own.get(k) or "") for k in keys)


def verified_archive(job: BackupJob) -> Path:
    """The first stored copy of the job's archive whose checksum matches the recorded one."""
    if job.state not in BackupJob.GOOD_STATES:
        raise RestoreFailed(
            f"{job.number} is {job.state}: only a succeeded or verified backup can be restored"
        )
    if not job.archive_path:
        raise RestoreFailed(
            f"{job.number} has no archive on this host (reported by an external backup tool; "
            "restore it with that tool)"
        )
    if not job.checksum.startswith("sha256:"):
        raise RestoreFailed(f"{job.number} has no SHA-256 checksum to verify the archive against")
    expected = job.checksum.removeprefix("sha256:")
    problems = []
    for candidate in filter(None, job.archive_path.split("\n")):
        path = Path(candidate)
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        if _sha256(path) != expected:
            problems.append(f"{path}: checksum does not match")
            continue
        return path
    raise RestoreFailed(f"no intact copy of {job.number}: " + "; ".join(problems))


def _kind(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise RestoreFailed("the archive is neither a SQLite database nor a pg_dump custom archive")


def restore_portal_backup(
    job: BackupJob,
    *,
    target: dict,
    archive: Path | None = None,
    actor_label: str = "backups.restore",
) -> RestoreResult:
    """Put the database of ``job`` into ``target`` (checksum first, then decrypt, then restore)."""
    t0 = time.monotonic()
    archive = archive or verified_archive(job)
    checksum_seconds = time.monotonic() - t0
    engine = ENGINES.get(target.get("ENGINE"))
    if engine is None:
        raise RestoreFailed(f"unsupported database engine {target.get('ENGINE')}")
    t1 = time.monotonic()
    previous = None
    with tempfile.TemporaryDirectory(prefix="itsm-restore-") as tmp:
        plain = archive
        if crypto.is_encrypted(archive):
            key = crypto.configured_key()
            if not key:
                raise RestoreFailed(f"{job.number} is encrypted: set {crypto.ENV_KEY}")
            plain = Path(tmp) / "plain"
            try:
                crypto.decrypt_file(archive, plain, key)
            except crypto.DecryptionFailed as exc:
                raise RestoreFailed(f"cannot decrypt {archive}: {exc}") from exc
        kind = _kind(plain)
        if kind != engine:
            raise RestoreFailed(f"{job.number} is a {kind} backup; it cannot go into {engine}")
        # Nothing of this process may hold the target open while it is replaced.
        connections.close_all()
        if engine == "sqlite":
            previous = _restore_sqlite(plain, Path(target["NAME"]))
        else:
            _restore_postgres(plain, target)
    result = RestoreResult(
        job=job,
        archive=archive,
        target=describe(target),
        engine=engine,
        size_bytes=archive.stat().st_size,
        checksum_seconds=checksum_seconds,
        restore_seconds=time.monotonic() - t1,
        previous=previous,
    )
    try:
        record_event(
            job,
            action="restored",
            actor_label=actor_label,
            data={
                "target": result.target,
                "seconds": round(result.seconds, 2),
                "archive": str(archive),
            },
        )
    except DatabaseError:
        # The restore itself succeeded; a target without the audit table must not undo that.
        log.warning("restore of %s done; could not record it in the audit trail", job.number)
    return result


def _restore_sqlite(plain: Path, target: Path) -> Path | None:
    """Copy the database file into place; an existing one (with its WAL) is moved aside."""
    if not target.is_absolute():
        target = Path(settings.BASE_DIR) / target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.restoring")
    shutil.copyfile(plain, staging)
    # immutable: the check must not leave -wal/-shm files behind the staged copy.
    check = sqlite3.connect(f"file:{staging}?mode=ro&immutable=1", uri=True)
    try:
        (status,) = check.execute("PRAGMA quick_check").fetchone()
    finally:
        check.close()
    if status != "ok":
        staging.unlink(missing_ok=True)
        raise RestoreFailed(f"the restored file fails SQLite's check: {status}")
    previous = None
    if target.exists():
        stamp = timezone.localtime().strftime("%Y%m%dT%H%M%S")
        previous = target.with_name(f"{target.name}.before-restore-{stamp}")
        # The WAL and shared-memory files belong to the old database: left in place, SQLite
        # would replay them into the restored one.
        for suffix in ("", "-wal", "-shm", "-journal"):
            old = Path(f"{target}{suffix}")
            if old.exists():
                os.replace(old, Path(f"{previous}{suffix}"))
    os.replace(staging, target)
    return previous


def _restore_postgres(plain: Path, db: dict) -> None:
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            _binary("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            *args,
            "--dbname",
            str(db["NAME"]),
            str(plain),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=6 * 3600,
        check=False,
    )
    if result.returncode != 0:
        raise RestoreFailed(f"pg_restore failed: {result.stderr.strip()[:2000]}")
