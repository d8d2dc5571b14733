from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OncallConfig(AppConfig):
    """On-call schedules (DESIGN.md § On-call and paging): who is on duty for a team at an
    instant. Below ``incidents`` in the import order: escalation asks it who to page; it knows
    nothing about incidents."""

    name = "oncall"
    verbose_name = _("On-call")
