"""Celery doorbells of the monitoring intake; each calls one use case and is safe to run twice.

The task names keep their ``incidents.`` prefix: queued messages and beat entries of existing
installs name them so. ``intake.acceptance`` enqueues the processor by its name
(``PROCESS_TASK``), so nothing the tasks import imports them back.
"""

from celery import shared_task

from . import acceptance, processing


@shared_task(name=acceptance.PROCESS_TASK, acks_late=True)
def process_deliveries(integration_id: int) -> int:
    """The doorbell rung after a delivery is stored: apply the integration's pending ones, and
    linger briefly for those stored meanwhile (their requests may not ring: see
    ``intake.acceptance``)."""
    return processing.process_deliveries(integration_id, linger=acceptance.BELL_LINGER)


@shared_task(name="incidents.process_pending_deliveries", acks_late=True)
def process_pending_deliveries() -> int:
    return processing.process_pending_deliveries()


@shared_task(name="incidents.prune_deliveries", acks_late=True)
def prune_deliveries() -> int:
    return processing.prune_deliveries()
