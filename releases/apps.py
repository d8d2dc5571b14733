from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_VIEW = [
    "releases.view_release",
    "releases.view_deployment",
    "releases.view_environment",
    "releases.view_releasecadence",
    "releases.view_releaseslot",
    "releases.view_deploymentincident",
]
# Developers and the ops ladder (L2+) plan releases and report deployments; operators,
# executives and CAB members read.
_RELEASE_TEAM = [
    *_VIEW,
    "releases.add_release",
    "releases.change_release",
    "releases.add_deployment",
    "releases.add_deploymentincident",
    "releases.delete_deploymentincident",
]


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = _("Release management")
    config_resources = True  # <app>/config.py: what the configuration API and files cover

    role_permissions = {
        "operator": _VIEW,
        "executive": _VIEW,
        "cab_member": _VIEW,
        "developer": _RELEASE_TEAM,
        "ops_leader": _RELEASE_TEAM,
        "ops_manager": [
            *_RELEASE_TEAM,
            "releases.change_releasecadence",
            "releases.change_environment",
        ],
        "admin": [
            *_RELEASE_TEAM,
            "releases.add_releasecadence",
            "releases.change_releasecadence",
            "releases.change_environment",
            "releases.add_releaseslot",
            "releases.change_releaseslot",
            "releases.delete_releaseslot",
        ],
    }

    # Slots are generated months ahead; hourly keeps the horizon filled after cadence edits.
    beat_schedule = {
        "releases.fill_release_slots": {
            "task": "releases.fill_release_slots",
            "schedule": 3600.0,
        }
    }

    def ready(self) -> None:
        from incidents.panels import register_panel
        from itsm.core import workflow

        from . import services
        from .panels import RELATED_PANEL

        workflow.register(services.TRANSITIONS)
        register_panel(RELATED_PANEL)

        # Releases on the change calendar; before changes.calendar exists there is nothing to
        # register with.
        try:
            from changes.calendar import CalendarEntry, register_source  # noqa: F401
        except ImportError:
            return
        from .calendar_source import calendar_entries

        register_source(calendar_entries)
