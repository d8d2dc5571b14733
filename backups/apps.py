from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_READ = [
    "backups.view_backuppolicy",
    "backups.view_backupschedule",
    "backups.view_storagelocation",
    "backups.view_backupjob",
    "backups.view_rpobreach",
    "backups.view_restoretest",
    "backups.view_drplan",
    "backups.view_drscenario",
    "backups.view_drdrill",
]
# Operators (and the service accounts of backup tools, which hold the operator role) report
# jobs and run restore tests; leaders and above also maintain policies, DR plans and drills.
_OPERATE = [
    *_READ,
    "backups.add_backupjob",
    "backups.change_backupjob",
    "backups.add_restoretest",
    "backups.change_restoretest",
]
_MANAGE = [
    *_OPERATE,
    "backups.add_backuppolicy",
    "backups.change_backuppolicy",
    "backups.add_backupschedule",
    "backups.change_backupschedule",
    "backups.delete_backupschedule",
    "backups.add_storagelocation",
    "backups.change_storagelocation",
    "backups.add_drplan",
    "backups.change_drplan",
    "backups.add_drscenario",
    "backups.change_drscenario",
    "backups.add_drdrill",
    "backups.change_drdrill",
]


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = _("Backup & recovery")
    config_resources = True  # <app>/config.py: what the configuration API and files cover

    role_permissions = {
        "operator": _OPERATE,
        "ops_leader": _MANAGE,
        "ops_manager": _MANAGE,
        "admin": [*_MANAGE, "backups.delete_storagelocation", "backups.delete_drdrill"],
        "developer": _READ,
        "executive": _READ,
        "cab_member": _READ,
    }

    # Sweeps over indexed deadlines (DESIGN.md principle 1); each is safe to run twice.
    beat_schedule = {
        "backups.check_rpo": {"task": "backups.check_rpo", "schedule": 300.0},
        "backups.run_due_portal_backups": {
            "task": "backups.run_due_portal_backups",
            "schedule": 60.0,
        },
        "backups.expire_old_generations": {
            "task": "backups.expire_old_generations",
            "schedule": 3600.0,
        },
        "backups.plan_restore_tests": {"task": "backups.plan_restore_tests", "schedule": 3600.0},
        "backups.notify_overdue_restore_tests": {
            "task": "backups.notify_overdue_restore_tests",
            "schedule": 3600.0,
        },
        "backups.notify_overdue_dr_drills": {
            "task": "backups.notify_overdue_dr_drills",
            "schedule": 3600.0,
        },
    }

    def ready(self) -> None:
        from itsm.core import workflow

        from . import services

        workflow.register(services.TRANSITIONS)
