"""``manage.py backup_portal``: back up the portal's own database now (before an upgrade, or
to take a first backup), with the same executor beat runs on the policy's schedule."""

from django.core.management.base import BaseCommand, CommandError

from backups import services
from backups.models import BackupJob


class Command(BaseCommand):
    help = "Back up the portal's own database now (the built-in executor)."

    def handle(self, *args, **options):
        try:
            job = services.run_portal_backup()
        except services.BackupFailed as exc:
            raise CommandError(str(exc)) from exc
        if job.state not in BackupJob.GOOD_STATES:
            raise CommandError(f"{job.number} failed: {job.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{job.number}: {job.size_bytes} bytes in {job.duration.total_seconds():.1f} s"
                f"{', encrypted' if job.encrypted else ''}, checksum {job.checksum}"
            )
        )
        for path in job.archive_path.split("\n"):
            self.stdout.write(f"  {path}")
