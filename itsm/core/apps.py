from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "itsm.core"
    label = "core"
    verbose_name = _("Core")
    config_resources = True  # <app>/config.py: what the configuration API and files cover
    # Catch-up for deliveries whose task never ran (broker down, worker killed) and for due
    # retries: the row holds the retry time, the message is only a doorbell.
    beat_schedule = {
        "core.deliver_pending_notifications": {
            "task": "core.deliver_pending_notifications",
            "schedule": 30.0,
        },
        # Proof that a worker takes tasks: /metrics exposes when it last ran (WorkerDown).
        "core.worker_heartbeat": {"task": "core.worker_heartbeat", "schedule": 60.0},
    }

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # startup checks; the audit of every transition; the tasks, enqueued by name
        from . import checks, signals, tasks  # noqa: F401
        from .monitoring import worker  # noqa: F401 - Celery signals timing the queue wait
        from .permissions import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="core.sync_role_permissions")
        self._collect_beat_schedule()

    @staticmethod
    def _collect_beat_schedule() -> None:
        """Apps declare their periodic sweeps as ``beat_schedule`` on their AppConfig."""
        from celery import current_app
        from django.apps import apps

        schedule = dict(current_app.conf.beat_schedule or {})
        for config in apps.get_app_configs():
            schedule.update(getattr(config, "beat_schedule", {}))
        current_app.conf.beat_schedule = schedule
