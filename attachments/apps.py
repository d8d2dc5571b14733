from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttachmentsConfig(AppConfig):
    """Files on incidents, postmortems and changes (issue 19). The apps that own the records
    register them with ``attachments.registry`` and decide who may see, add and delete."""

    name = "attachments"
    verbose_name = _("Attachments")

    # Access to a file follows its record (attachments.registry); the admin only lists them.
    role_permissions = {"admin": ["attachments.view_attachment"]}

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the settings check
