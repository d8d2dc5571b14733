from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from itsm.core.models import ApiToken
from itsm.core.tokens import issue_token


class Command(BaseCommand):
    help = "Issue an API token for USERNAME and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label to recognise the token by.")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.WRITE)

    def handle(self, *args, username, name, scope, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        _token, raw = issue_token(user, name=name, scope=scope)
        self.stdout.write(raw)
