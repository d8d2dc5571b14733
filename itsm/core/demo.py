"""Helpers shared by the apps' demo modules (``<app>/demo.py``, imported only by ``seed_demo``).

Demo history is lived through the real services at its own moments: ``travel`` moves the clock
(time-machine, a dev dependency), ``best_effort`` leaves one record out with a warning when a rule
refuses it on the day the demo is seeded.
"""

from __future__ import annotations

import importlib.util
import logging
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from itsm.core import workflow

logger = logging.getLogger("itsm.demo")


def can_travel() -> bool:
    """The history needs time-machine (a dev dependency); without it, it is left out."""
    if importlib.util.find_spec("time_machine") is None:
        logger.warning(
            "demo history left out: time-machine is not installed (pip install -e .[dev])"
        )
        return False
    return True


@contextmanager
def best_effort(label: str):
    """One history record in a savepoint: when a rule refuses it on this particular day (a lead
    time across the year-end closure, say), it is left out with a warning, not the whole demo."""
    try:
        with transaction.atomic():
            yield
    except (workflow.TransitionError, ValidationError) as exc:
        logger.warning("demo history: %s left out (%s)", label, exc)


@contextmanager
def travel(moment: datetime):
    """Run services at ``moment`` (time-machine, a dev dependency: demo data only). Every
    timestamp — transitions, audit events, escalation steps — is then that moment's."""
    import time_machine

    with time_machine.travel(moment, tick=False) as clock:
        yield clock


def days_ago(days: int, hour: int, minute: int = 0) -> datetime:
    """A local time ``days`` calendar days before today."""
    day = timezone.localdate() - timedelta(days=days)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


# Submitting takes a few seconds after planning; an hour of margin keeps a planned start clear
# of a lead-time limit whatever the moment the demo is seeded.
LEAD_TIME_MARGIN = timedelta(hours=1)


def submitted_before(earliest_start, start: datetime, latest: datetime) -> datetime:
    """``latest``, or whole days earlier, so that a lead time ends by ``start``:
    ``earliest_start(submitted)`` is the earliest start allowed for a request submitted then
    (``ChangeClass.earliest_start``, §9.2 lead times)."""
    submitted = latest
    while earliest_start(submitted) > start - LEAD_TIME_MARGIN:
        submitted -= timedelta(days=1)
    return submitted
