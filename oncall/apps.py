from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_VIEW = [
    "oncall.view_schedule",
    "oncall.view_layer",
    "oncall.view_layermember",
    "oncall.view_override",
]
# Team leads (ops leader and above) edit rotations and add overrides.
_EDIT = _VIEW + [
    f"oncall.{action}_{model}"
    for model in ("schedule", "layer", "layermember", "override")
    for action in ("add", "change", "delete")
]


class OncallConfig(AppConfig):
    """On-call schedules (DESIGN.md § On-call and paging): who is on duty for a team at an
    instant. Below ``incidents`` in the import order: escalation asks it who to page; it knows
    nothing about incidents."""

    name = "oncall"
    verbose_name = _("On-call")
    config_resources = True  # <app>/config.py: what the configuration API and files cover

    role_permissions = {
        "operator": _VIEW,
        "ops_leader": _EDIT,
        "ops_manager": _EDIT,
        "developer": _VIEW,
        "executive": _VIEW,
        "cab_member": _VIEW,
        "admin": _EDIT,
    }
