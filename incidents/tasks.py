"""Celery tasks of incident management: doorbells, each calling one service (STYLE.md §7)."""

from celery import shared_task

from . import escalation, handoff, paging


@shared_task(name="incidents.sweep_deadlines", acks_late=True, reject_on_worker_lost=True)
def sweep_deadlines() -> int:
    """§8.4: apply every due escalation step (safe to run twice, or on several workers)."""
    return escalation.sweep_deadlines()


@shared_task(name="incidents.repeat_pages", acks_late=True, reject_on_worker_lost=True)
def repeat_pages() -> int:
    """Send unacknowledged pages again when their repeat is due (safe to run twice)."""
    return paging.repeat_due_pages()


@shared_task(name="incidents.send_handoffs", acks_late=True, reject_on_worker_lost=True)
def send_handoffs() -> int:
    """Hand-off summaries for the on-call shifts that just started (each sent once)."""
    return handoff.send_handoffs()


@shared_task(name="incidents.end_due_holds", acks_late=True, reject_on_worker_lost=True)
def end_due_holds() -> int:
    """Issue 18: resume the resolution clock of holds whose planned end passed (safe twice)."""
    from . import holds

    return holds.end_due_holds()
