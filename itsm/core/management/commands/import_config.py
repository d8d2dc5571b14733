"""``manage.py import_config config.yaml [--dry-run] [--prune]``: apply a configuration file.

Prints what it changes (+ created, ~ updated with the fields, - deleted). An invalid file is
refused with one line per problem (``config.yaml:12: services/web.owner_team: …``) and nothing is
changed: the whole file is applied in one transaction.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from itsm.core.config.document import apply_document


class Command(BaseCommand):
    help = "Apply a configuration file written by export_config (idempotent, one transaction)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the YAML file ('-' reads stdin)")
        parser.add_argument("--dry-run", action="store_true", help="show the changes, apply none")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="also delete records of the sections in the file that the file does not list",
        )

    def handle(self, *args, path, dry_run=False, prune=False, **options):
        name = "<stdin>" if path == "-" else path
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {name}: {exc}") from exc
        outcome = apply_document(text, dry_run=dry_run, prune=prune)
        if outcome.problems:
            for problem in outcome.problems:
                self.stderr.write(f"{name}:{problem.line}: {problem.where}: {problem.message}")
            raise CommandError(
                f"{len(outcome.problems)} problem(s) in {name}; nothing was changed."
            )
        for line in outcome.diff_lines():
            self.stdout.write(line)
        summary = (
            f"{len(outcome.created)} created, {len(outcome.updated)} updated, "
            f"{len(outcome.deleted)} deleted, {outcome.unchanged} unchanged"
        )
        if outcome.unnamed:
            summary += f"; {len(outcome.unnamed)} not in the file were kept (--prune deletes them)"
        if dry_run:
            self.stdout.write(f"Dry run: {summary}. Nothing was changed.")
            return
        self.stdout.write(f"Applied: {summary}." if outcome.changed else f"No changes ({summary}).")
        for label, secret in outcome.secrets:
            self.stdout.write(f"New secret for {label} (shown once): {secret}")
