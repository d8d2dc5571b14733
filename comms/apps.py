from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_READ = [
    "comms.view_incidentcomms",
    "comms.view_stakeholderupdate",
    "comms.view_subscription",
    "comms.view_updatetemplate",
    "comms.view_statuspageservice",
    "comms.view_prioritycomms",
]
# Who works incidents takes roles, posts updates and adds subscribers.
_WORK = _READ + [
    "comms.change_incidentcomms",
    "comms.add_stakeholderupdate",
    "comms.add_subscription",
    "comms.delete_subscription",
]
# Who configures: update templates, the status page's services, the cadence per priority.
_CONFIG = _WORK + [
    f"comms.{action}_{model}"
    for model in ("updatetemplate", "statuspageservice", "prioritycomms")
    for action in ("add", "change", "delete")
]


class CommsConfig(AppConfig):
    """Communication during an incident (DESIGN.md § Communication during an incident): roles,
    stakeholder updates on a cadence, subscribers and the status page. Above ``incidents`` in
    the import order (it reads incidents and escalates through ``incidents.escalation``);
    ``changes`` tells it about maintenance windows through ``comms.maintenance``."""

    name = "comms"
    verbose_name = _("Incident communication")
    config_resources = True  # <app>/config.py: what the configuration API and files cover

    role_permissions = {
        "operator": _WORK,
        "ops_leader": _WORK + [f"comms.{a}_updatetemplate" for a in ("add", "change", "delete")],
        "ops_manager": _CONFIG,
        "developer": _WORK,
        "executive": _READ,
        "cab_member": _READ,
        "admin": _CONFIG,
    }

    @property
    def beat_schedule(self):
        from django.conf import settings

        return {
            "comms.sweep_updates": {
                "task": "comms.sweep_updates",
                "schedule": float(settings.SWEEP_INTERVAL_SECONDS),
            },
        }

    def ready(self):
        from incidents.merging import register_mover
        from incidents.panels import register_panel

        from . import tasks  # noqa: F401 - the worker knows the tasks
        from .panels import COMMS_PANEL
        from .services import move_subscribers

        register_panel(COMMS_PANEL)
        register_mover("subscribers", move_subscribers)
