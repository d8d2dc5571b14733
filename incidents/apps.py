from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _perms(*specs: str) -> list[str]:
    """``_perms("view,add:incident", …)`` → ``["incidents.view_incident", "incidents.add_incident"]``."""
    out = []
    for spec in specs:
        actions, model = spec.split(":")
        out.extend(f"incidents.{a}_{model}" for a in actions.split(","))
    return out


_READ = _perms(
    "view:incident",
    "view:page",
    "view:timelineentry",
    "view:postmortem",
    "view:actionitem",
    "view:fivewhy",
    "view:runbook",
    "view:runbookstep",
    "view:incidentrunbook",
    "view:checklistitem",
    "view:triagerule",
    "view:urgencyrule",
    "view:responsetarget",
    "view:escalationpolicy",
    "view:escalationlevel",
    "view:escalationstep",
    "view:incidentescalation",
    "view:incidentreview",
    "view:incidentreviewitem",
    "view:fixfollowup",
    "view:reviewcheck",
    "view:resolutiontarget",
    "view:hold",
)
# Who works incidents: file, triage, post updates, tick runbooks, write postmortems.
_WORK = _READ + _perms(
    "add,change:incident",
    "add:timelineentry",
    "add:incidentrunbook",
    "change:checklistitem",
    "add,change:postmortem",
    "add,change,delete:actionitem",
    "add,change,delete:fivewhy",
    "change:incidentreview",
    "add,change:fixfollowup",
)
_CONFIG = _perms(
    "add,change,delete:runbook",
    "add,change,delete:runbookstep",
    "change:triagerule",
    "change:urgencyrule",
    "change:responsetarget",
    "change:resolutiontarget",
    "view,change:incidentpolicy",
    "add,change,delete:escalationpolicy",
    "add,change,delete:escalationlevel",
    "add,change,delete:reviewcheck",
)


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incident management")
    config_resources = True  # <app>/config.py: what the configuration API and files cover

    # Model permissions per role (itsm.core.permissions); who may take which transition is on
    # the transitions themselves (incidents.models).
    role_permissions = {
        "operator": _WORK,
        "ops_leader": _WORK + _perms("add,change,delete:runbook", "add,change,delete:runbookstep"),
        "ops_manager": _WORK + _CONFIG,
        "developer": _WORK,
        "executive": _READ,
        "cab_member": _READ,
        "admin": _WORK + _CONFIG,
    }

    @property
    def beat_schedule(self):
        """§8.4: the escalation clock sweeps due deadlines (settings.SWEEP_INTERVAL_SECONDS)."""
        from django.conf import settings

        return {
            "incidents.sweep_deadlines": {
                "task": "incidents.sweep_deadlines",
                "schedule": float(settings.SWEEP_INTERVAL_SECONDS),
            },
            "incidents.repeat_pages": {
                "task": "incidents.repeat_pages",
                "schedule": float(settings.SWEEP_INTERVAL_SECONDS),
            },
            "incidents.send_handoffs": {"task": "incidents.send_handoffs", "schedule": 60.0},
            # Issue 18: holds end at their planned time (incidents.holds.end_due_holds).
            "incidents.end_due_holds": {
                "task": "incidents.end_due_holds",
                "schedule": float(settings.SWEEP_INTERVAL_SECONDS),
            },
        }

    def ready(self):
        from itsm.core import workflow

        from . import attachments, config_cache, escalation, services
        from .fix import fix_context
        from .links import links_context
        from .models import Incident
        from .panels import Panel, register_panel
        from .sla import sla_context

        workflow.register(services.TRANSITIONS)
        config_cache.connect()
        workflow.register_summary(Incident, escalation.transition_summary)
        register_panel(Panel("links", "incidents/partials/_links.html", links_context, order=8))
        register_panel(Panel("fix", "incidents/partials/_fix.html", fix_context, order=9))
        register_panel(Panel("sla", "incidents/partials/_sla.html", sla_context, order=7))
        attachments.register()
        register_panel(
            Panel(
                "attachments",
                "attachments/partials/_panel.html",
                attachments.attachments_context,
                order=10,
            )
        )
