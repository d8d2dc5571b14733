"""Celery doorbells of the monitoring intake (imported by IncidentsConfig.ready, so the worker
knows them next to ``incidents.tasks``); each calls one service and is safe to run twice."""

from celery import shared_task

from . import intake


@shared_task(name="incidents.process_deliveries", acks_late=True)
def process_deliveries(integration_id: int) -> int:
    """The doorbell rung after a delivery is stored: apply the integration's pending ones, and
    linger briefly for those stored meanwhile (their requests may not ring: see ``_ring``)."""
    return intake.process_deliveries(integration_id, linger=intake.BELL_LINGER)


@shared_task(name="incidents.process_pending_deliveries", acks_late=True)
def process_pending_deliveries() -> int:
    return intake.process_pending_deliveries()


@shared_task(name="incidents.prune_deliveries", acks_late=True)
def prune_deliveries() -> int:
    return intake.prune_deliveries()
