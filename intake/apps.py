from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _perms(*specs: str) -> list[str]:
    """``_perms("view,add:integration")`` → ``["intake.view_integration", "intake.add_integration"]``."""
    out = []
    for spec in specs:
        actions, model = spec.split(":")
        out.extend(f"intake.{a}_{model}" for a in actions.split(","))
    return out


# Leaders and up see integrations and deliveries; managers configure them.
_READ = _perms("view:integration", "view:mappingrule", "view:delivery", "view:alertgroup")
_CONFIG = _READ + _perms("add,change,delete:integration", "add,change,delete:mappingrule")


class IntakeConfig(AppConfig):
    """Monitoring intake (DESIGN.md § Monitoring intake): integrations, mapping rules,
    deliveries, alert groups and alerts. It opens, updates and recovers incidents only through
    ``incidents.services`` and shows its alerts on the incident page through a registered panel.
    """

    name = "intake"
    verbose_name = _("Monitoring intake")
    config_resources = True  # <app>/config.py: what the configuration API and files cover

    role_permissions = {
        "ops_leader": _READ,
        "ops_manager": _CONFIG,
        "admin": _CONFIG,
    }

    # The stored deliveries are retried (the safety net when the broker was down: deliveries wait
    # ≤ ~7 s) and pruned. Names keep their ``incidents.`` prefix (see ``intake.tasks``).
    beat_schedule = {
        "incidents.process_pending_deliveries": {
            "task": "incidents.process_pending_deliveries",
            "schedule": 5.0,
        },
        "incidents.prune_deliveries": {
            "task": "incidents.prune_deliveries",
            "schedule": 3600.0,
        },
    }

    def ready(self):
        from incidents.merging import register_mover
        from incidents.panels import register_panel

        from . import tasks  # noqa: F401 - the worker knows the tasks
        from .panels import ALERTS_PANEL
        from .services import move_alerts

        register_panel(ALERTS_PANEL)
        register_mover("alerts", move_alerts)
