"""Celery application. Tasks are doorbells: the database holds every deadline (DESIGN.md §1)."""

import gc
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")

app = Celery("itsm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect  # the worker (a solo pool's only process; prefork's, before it forks)
@worker_process_init.connect  # each process of a prefork pool
def freeze_loaded_objects(**kwargs) -> None:
    """Leave what a worker process has loaded when it starts (Django, the apps, their
    modules and classes) out of the garbage collector's passes, as Python's ``gc`` docs advise
    for forked workers. An escalation sweep or an alert storm allocates tens of thousands of
    rows, and every full collection walked all of the loaded code too: 8 % of a sweep's time
    (issue 20; ``bench_escalation``'s workers start the same way)."""
    gc.freeze()
