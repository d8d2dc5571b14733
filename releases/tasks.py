"""Periodic tasks of release management: doorbells that call one service each."""

from celery import shared_task

from . import services


@shared_task(name="releases.fill_release_slots", acks_late=True)
def fill_release_slots() -> int:
    """Keep the planned release slots filled for every cadence's horizon (§10.2)."""
    return services.fill_release_slots()
