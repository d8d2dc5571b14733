"""``makemessages`` that writes one catalog per app.

Strings under ``<app>/`` and ``templates/<app>/`` go to ``<app>/locale/``; everything else
(itsm/, the shared templates) goes to the project's ``locale/``. Each app owns its catalog, so
work on different apps never edits the same .po file.
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.commands import makemessages

APPS = ("attachments", "oncall", "incidents", "comms", "intake", "changes", "releases", "backups")


class Command(makemessages.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--app",
            default="",
            help="Only this app's catalog (incidents, changes, …, or 'project').",
        )

    def handle(self, *args, **options):
        self.only_app = options.pop("app", "")
        options["ignore_patterns"] = [
            *options.get("ignore_patterns", []),
            ".venv",
            "node_modules",
            "static",
            "staticfiles",
            "var",
            "tests",
            "bench",
        ]
        return super().handle(*args, **options)

    def find_files(self, root):
        base = Path(settings.BASE_DIR)
        for app in APPS:
            locale = base / app / "locale"
            locale.mkdir(exist_ok=True)
            if str(locale) not in self.locale_paths:
                self.locale_paths.append(str(locale))
        files = super().find_files(root)
        for f in files:
            parts = Path(os.path.abspath(f.path)).relative_to(base).parts
            app = parts[1] if parts[0] == "templates" and len(parts) > 2 else parts[0]
            f.locale_dir = str(base / app / "locale") if app in APPS else str(base / "locale")
            f.owner = app if app in APPS else "project"
        if self.only_app:
            files = [f for f in files if f.owner == self.only_app]
        return files
