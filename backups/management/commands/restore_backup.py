"""``manage.py restore_backup BKP-000123 [--into DATABASE_URL] [--yes]``.

Restores a backup of the portal's own database taken by the built-in executor. The archive's
checksum is verified before anything else; nothing is touched without confirmation (typing the
job number at the prompt, or ``--yes`` for scripts — without a terminal and without ``--yes``
the command refuses).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backups import restore
from backups.models import BackupJob


class Command(BaseCommand):
    help = "Restore a backup of the portal's own database (BKP-…) into it or into another one."

    def add_arguments(self, parser):
        parser.add_argument("number", help="the backup job, e.g. BKP-000123")
        parser.add_argument(
            "--into",
            metavar="DATABASE_URL",
            help="restore into this database instead of the portal's own "
            "(sqlite:////path/file.sqlite3 or postgres://user:password@host:5432/name; "
            "a PostgreSQL target must exist)",
        )
        parser.add_argument(
            "--yes", action="store_true", help="do not ask for confirmation (scripts, CI)"
        )

    def handle(self, *args, number, into=None, yes=False, **options):
        job = BackupJob.objects.select_related("policy").filter(number=number.upper()).first()
        if job is None:
            raise CommandError(f"No backup job {number}.")
        try:
            target = restore.target_database(into)
            archive = restore.verified_archive(job)
        except restore.RestoreFailed as exc:
            raise CommandError(str(exc)) from exc
        own = restore.is_portal_database(target)
        finished = timezone.localtime(job.finished_at).strftime("%Y-%m-%d %H:%M %Z")
        self.stdout.write(
            f"{job.number} ({job.policy.name}, finished {finished}, "
            f"{archive.stat().st_size} bytes{', encrypted' if job.encrypted else ''})\n"
            f"archive: {archive} (checksum ok)\n"
            f"target:  {restore.describe(target)}" + (" — the portal's own database" if own else "")
        )
        self.stdout.write(
            self.style.WARNING(
                "Every table in the target is replaced by the backup's contents."
                + (
                    " Stop the portal first (web, worker and beat): a process still connected "
                    "would write to the old database or overwrite the restored one."
                    if own
                    else ""
                )
            )
        )
        if not yes:
            self._confirm(job.number)
        try:
            result = restore.restore_portal_backup(
                job, target=target, archive=archive, actor_label="manage.py restore_backup"
            )
        except restore.RestoreFailed as exc:
            raise CommandError(f"Restore failed, target unchanged: {exc}") from exc
        if result.previous:
            self.stdout.write(f"previous database kept at {result.previous}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {job.number} into {result.target} in {result.seconds:.1f} s "
                f"(checksum {result.checksum_seconds:.1f} s, restore {result.restore_seconds:.1f} s)."
            )
        )

    def _confirm(self, number: str) -> None:
        stdin = sys.stdin
        if stdin is None or not stdin.isatty():
            raise CommandError(
                "Refusing to restore without confirmation: run it in a terminal or pass --yes."
            )
        self.stdout.write(f"Type {number} to restore it: ", ending="")
        self.stdout.flush()
        try:
            answer = stdin.readline()
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().upper() != number:
            raise CommandError("Not confirmed; nothing was changed.")
