"""Celery doorbells of the monitoring intake; each calls one use case and is safe to run twice.

The task names keep their ``incidents.`` prefix: queued messages and beat entries of existing
installs name them so. The use cases are imported in the task bodies (``intake.acceptance``
enqueues these tasks, so a module-level import would be a loop).
"""

from celery import shared_task


@shared_task(name="incidents.process_deliveries", acks_late=True)
def process_deliveries(integration_id: int) -> int:
    """The doorbell rung after a delivery is stored: apply the integration's pending ones, and
    linger briefly for those stored meanwhile (their requests may not ring: see
    ``intake.acceptance``)."""
    from .acceptance import BELL_LINGER
    from .processing import process_deliveries as process

    return process(integration_id, linger=BELL_LINGER)


@shared_task(name="incidents.process_pending_deliveries", acks_late=True)
def process_pending_deliveries() -> int:
    from .processing import process_pending_deliveries as sweep

    return sweep()


@shared_task(name="incidents.prune_deliveries", acks_late=True)
def prune_deliveries() -> int:
    from .processing import prune_deliveries as prune

    return prune()
