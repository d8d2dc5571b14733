"""Files on changes (issue 19), registered with ``attachments.registry`` by ``ChangesConfig.ready``
with the change page's checks. They show in their own panel on the change page, below the work
log (a file is not a work-log line: it has no state-dependent window).

- See: whoever may view changes. Add: whoever may edit changes.
- Delete: whoever may add, for their own files; ops leaders and above for anyone's.
"""

from __future__ import annotations

from itsm.core.roles import ops_rank


def can_view_change(user, change) -> bool:
    return user.has_perm("changes.view_changerequest")


def can_attach_to_change(user, change) -> bool:
    return user.has_perm("changes.change_changerequest")


def can_delete_from_change(user, change, attachment) -> bool:
    if not can_attach_to_change(user, change):
        return False
    return attachment.uploaded_by_id == user.pk or ops_rank(user) >= 2


def register() -> None:
    from attachments import registry

    from .models import ChangeRequest

    registry.register(
        ChangeRequest,
        key="change",
        can_view=can_view_change,
        can_attach=can_attach_to_change,
        can_delete=can_delete_from_change,
    )
