"""Files on incidents and postmortems (issue 19): registered with ``attachments.registry`` by
``IncidentsConfig.ready`` with the checks of the incident and postmortem pages, so whoever may
open the page may open its files.

- See: whoever may view incidents (postmortems) — the page's own permission.
- Add: whoever may work incidents; on a postmortem, whoever may edit it while it is unpublished.
- Delete: whoever may add, for their own files; ops leaders and above for anyone's.
- An incident's file appears on its timeline (§8.3.3: the timeline is the incident's story);
  once deleted, the entry stays, marked deleted, without its link. Merging a duplicate moves
  its files to the survivor.
"""

from __future__ import annotations

from itsm.core.roles import ops_rank

from .choices import TimelineKind


def can_view_incident(user, incident) -> bool:
    return user.has_perm("incidents.view_incident")


def can_attach_to_incident(user, incident) -> bool:
    return user.has_perm("incidents.change_incident")


def can_view_postmortem(user, pm) -> bool:
    return user.has_perm("incidents.view_postmortem")


def can_attach_to_postmortem(user, pm) -> bool:
    from .models import Postmortem

    return pm.state != Postmortem.State.PUBLISHED and user.has_perm("incidents.change_postmortem")


def _may_delete(can_attach):
    def check(user, record, attachment) -> bool:
        if not can_attach(user, record):
            return False
        return attachment.uploaded_by_id == user.pk or ops_rank(user) >= 2

    return check


def on_incident_attachment(incident, attachment, actor) -> None:
    from . import services

    services.add_timeline_entry(
        incident,
        actor=actor,
        kind=TimelineKind.ATTACHMENT,
        text=attachment.name,
        data={"attachment": str(attachment.public_id), "image": attachment.is_image},
    )


def on_incident_attachment_deleted(incident, attachment, actor) -> None:
    """Its timeline entry stays (the story keeps what was shared) but no longer links to it."""
    from .models import TimelineEntry

    entries = TimelineEntry.objects.filter(
        incident=incident,
        kind=TimelineKind.ATTACHMENT,
        data__attachment=str(attachment.public_id),
    )
    for entry in entries:
        entry.data = {**entry.data, "deleted": True}
        entry.save(update_fields=["data"])


def move_attachments(duplicate, survivor) -> int:
    """A merged duplicate's files go to the survivor with its timeline (``merging``)."""
    from attachments.selectors import attachments_of

    return attachments_of(duplicate).update(record_id=str(survivor.pk))


def attachments_context(request, incident) -> dict | None:
    from attachments.selectors import panel_context

    return panel_context(request, incident)


def register() -> None:
    from attachments import registry

    from .merging import register_mover
    from .models import Incident, Postmortem

    register_mover("attachments", move_attachments)

    registry.register(
        Incident,
        key="incident",
        can_view=can_view_incident,
        can_attach=can_attach_to_incident,
        can_delete=_may_delete(can_attach_to_incident),
        on_added=on_incident_attachment,
        on_deleted=on_incident_attachment_deleted,
    )
    registry.register(
        Postmortem,
        key="postmortem",
        can_view=can_view_postmortem,
        can_attach=can_attach_to_postmortem,
        can_delete=_may_delete(can_attach_to_postmortem),
    )
