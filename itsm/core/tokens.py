"""API token use cases: issue (the secret is shown once) and revoke, both audited.

Tokens are issued with ``manage.py issue_token`` and revoked in the admin; both go through here
so the audit trail says who gave or took API access, and when."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from .audit import record_event
from .models import ApiToken


def issue_token(
    user, *, name: str, scope: str = ApiToken.Scope.WRITE, expires_at=None, actor=None
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns ``(token, raw)``, ``raw`` to be shown once."""
    with transaction.atomic():
        token, raw = ApiToken.issue(user, name=name, scope=scope, expires_at=expires_at)
        record_event(
            token,
            action="create",
            actor=actor,
            actor_label="" if actor else "manage.py issue_token",
            data={"user": user.get_username(), "scope": scope},
        )
    return token, raw


def revoke_tokens(tokens: Iterable[ApiToken], *, actor) -> int:
    """Revoke the tokens not revoked yet (they stop working at once); how many were revoked."""
    now = timezone.now()
    revoked = 0
    with transaction.atomic():
        for token in ApiToken.objects.select_for_update().filter(
            pk__in=[t.pk for t in tokens], revoked_at__isnull=True
        ):
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            record_event(token, action="revoke", actor=actor, data={"prefix": token.prefix})
            revoked += 1
    return revoked
