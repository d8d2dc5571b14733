"""``manage.py export_config > config.yaml``: the portal's configuration as YAML (no secrets)."""

from django.core.management.base import BaseCommand

from itsm.core.config.document import export_document


class Command(BaseCommand):
    help = (
        "Write the configuration (teams, services, policies, rules, targets …) as YAML to stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="write to this file instead of stdout")

    def handle(self, *args, output=None, **options):
        text = export_document()
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")
