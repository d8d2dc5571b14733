from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_EVERYONE = [
    "changes.view_changerequest",
    "changes.add_changerequest",
    "changes.change_changerequest",
    "changes.view_changeclass",
    "changes.view_freezewindow",
    "changes.view_standardchangetemplate",
    "changes.view_rollbackcriterion",
    "changes.view_approval",
    "changes.view_cabvote",
    "changes.view_worklogentry",
    "changes.add_worklogentry",
]
_LEADERS = [
    *_EVERYONE,
    "changes.add_standardchangetemplate",
    "changes.change_standardchangetemplate",
]
_MANAGERS = [
    *_LEADERS,
    "changes.add_freezewindow",
    "changes.change_freezewindow",
    "changes.delete_freezewindow",
]


class ChangesConfig(AppConfig):
    name = "changes"
    verbose_name = _("Change management")
    config_resources = True  # <app>/config.py: what the configuration API and files cover

    # Model permissions per role; who may take which transition is on the transitions.
    role_permissions = {
        "operator": _EVERYONE,
        "ops_leader": _LEADERS,
        "ops_manager": _MANAGERS,
        "developer": _EVERYONE,
        "executive": ["changes.view_changerequest", "changes.view_freezewindow"],
        "cab_member": [*_EVERYONE, "changes.add_cabvote", "changes.change_cabvote"],
        "admin": [
            *_MANAGERS,
            "changes.change_changeclass",
            "changes.add_rollbackcriterion",
            "changes.change_rollbackcriterion",
            "changes.delete_standardchangetemplate",
        ],
    }

    def ready(self) -> None:
        from comms.maintenance import register_source
        from itsm.core import workflow

        from . import attachments, services
        from .maintenance import approved_windows

        workflow.register(services.TRANSITIONS)
        attachments.register()
        register_source("changes", approved_windows)
