"""Processing stored deliveries (the Celery doorbell and the beat sweep call these).

- ``process_deliveries``: apply the pending deliveries of one integration in order, in batches,
  under the integration's lock (what a delivery does: ``intake.alerts`` and ``intake.events``).
- ``process_pending_deliveries``: the beat sweep (every 5 s) that processes what the doorbell
  missed (broker down, worker died) or what failed and is due again.
- ``prune_deliveries``: drop deliveries older than each integration's retention.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from itsm.core.bulk import update_each

from . import acceptance
from .alerts import apply_group, open_new_groups
from .events import apply_event, open_new_keys
from .groups import Context
from .models import Delivery, DeliveryResult, Integration
from .parsing import EventIn, GroupIn, IntakeInvalid, parse_stored

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BATCH_DELIVERIES = 100  # deliveries applied per transaction by the processor
BATCH_ALERTS = 5000  # … and at most this many alerts (one delivery may carry more)
BELL_POLL = 0.05


def process_deliveries(
    integration_id: int,
    *,
    batch_size: int = BATCH_DELIVERIES,
    max_seconds: float = 60.0,
    linger: float = 0.0,
) -> int:
    """Apply the pending deliveries of one integration, oldest first; returns how many.

    Order per integration is kept (a resolve is never applied before its trigger): only the
    holder of the integration row's lock processes, in id order, and stops at a delivery whose
    processing failed (the sweep retries it, then the ones behind it). The holder looks for
    pending deliveries again after releasing the lock, so nothing committed meanwhile waits for
    the sweep. Several deliveries share one transaction (``batch_size``, at most
    ``BATCH_ALERTS`` alerts), so alert storms are cheap.

    ``linger``: keep looking (every ``BELL_POLL`` seconds, also while another processor holds
    the lock) until that many seconds after the start — the doorbell task passes
    ``BELL_LINGER``, which lets requests skip ringing (see ``_ring``). A failure ends the run
    at once: the deliveries behind it wait for the sweep's retry anyway.
    """
    cache.delete(acceptance.bell_key(integration_id))  # deliveries stored from now on ring again
    started = time.monotonic()
    done = 0
    while True:
        last_look = time.monotonic() - started >= linger  # decided before looking
        count, outcome = _process_batch(integration_id, batch_size)
        done += count
        if outcome == _FAILED or (outcome == _IDLE and last_look):
            return done
        if outcome == _IDLE:
            time.sleep(BELL_POLL)
        elif time.monotonic() - started > max_seconds:
            # Hand the rest to the next run instead of hogging a worker.
            cache.set(acceptance.bell_key(integration_id), 1, timeout=acceptance.BELL_SECONDS)
            acceptance.enqueue(integration_id)
            return done


_MORE, _IDLE, _FAILED = "more", "idle", "failed"  # what _process_batch leaves behind


def _process_batch(integration_id: int, batch_size: int) -> tuple[int, str]:
    """One transaction under the integration's lock: ``(processed, outcome)`` — ``_MORE``
    pending, ``_IDLE`` (none pending, or another processor holds the lock and will look again
    after releasing it) or ``_FAILED`` (stopped at a failed delivery to keep the order)."""
    with transaction.atomic():
        # FOR NO KEY UPDATE: serializes processors of the integration but does not block the
        # requests INSERTing deliveries (their foreign key takes only FOR KEY SHARE).
        integration = (
            Integration.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(pk=integration_id)
            .first()
        )
        if integration is None:
            return 0, _IDLE  # another processor holds it (and looks again after), or deleted
        batch, alerts = [], 0
        for delivery in Delivery.objects.filter(
            integration_id=integration_id, result=DeliveryResult.PENDING
        ).order_by("id")[:batch_size]:
            if batch and alerts + delivery.alert_count > BATCH_ALERTS:
                break
            batch.append(delivery)
            alerts += delivery.alert_count
        if not batch:
            return 0, _IDLE
        context = Context(integration)
        messages = {delivery.pk: _parse(delivery) for delivery in batch}
        opened = _open_new_keys(integration, batch, messages, context)
        processed = [delivery for delivery in batch if delivery.pk in opened]
        ok = True
        for delivery in batch:
            if delivery.pk in opened:
                continue
            delivery.integration = integration
            # Popped: a parsed storm delivery holds thousands of alerts, one at a time is enough.
            ok = _process(delivery, messages.pop(delivery.pk), integration, context=context)
            processed.append(delivery)
            if not ok:
                break
        update_each(processed, ["result", "incidents", "processed_at", "attempts", "error"])
        last = max(d.received_at for d in processed)
        if integration.last_delivery_at is None or integration.last_delivery_at < last:
            Integration.objects.filter(pk=integration.pk).update(last_delivery_at=last)
    if not ok:
        return len(processed), _FAILED  # keep the order: the sweep retries the failed one first
    pending = Delivery.objects.filter(integration_id=integration_id, result=DeliveryResult.PENDING)
    return len(processed), _MORE if pending.exists() else _IDLE


def _parse(delivery: Delivery):
    """The stored delivery's message, or the ``IntakeInvalid`` it raises."""
    try:
        return parse_stored(delivery)
    except IntakeInvalid as exc:
        return exc


def _open_new_keys(integration: Integration, batch: list, messages: dict, context) -> set[int]:
    """The batch's first delivery of each key (dedup key, Alertmanager group key) that fires,
    opened together when the key is new (``events.open_new_keys``, ``alerts.open_new_groups``)
    in a savepoint; the ids of the deliveries so processed. A later delivery of the same key is
    applied after them one by one, as it would have been. When the savepoint fails, nothing:
    each goes the one-by-one way (and fails or not on its own)."""
    firsts: dict[tuple, Delivery] = {}
    seen = set()
    for delivery in batch:
        message = messages[delivery.pk]
        if isinstance(message, EventIn):
            key, fires = ("event", message.dedup_key), message.action == "trigger"
        elif isinstance(message, GroupIn):
            key, fires = ("group", message.key), any(a.status == "firing" for a in message.alerts)
        else:
            continue
        if key not in seen and fires:
            firsts[key] = delivery
        seen.add(key)
    if len(firsts) < 2:
        return set()  # one new key: the one-by-one way costs the same
    try:
        with transaction.atomic():
            opened = {}
            for kind, open_new in (("event", open_new_keys), ("group", open_new_groups)):
                chosen = [messages[d.pk] for (of, _key), d in firsts.items() if of == kind]
                opened |= {
                    (kind, key): incident
                    for key, incident in open_new(integration, chosen, context).items()
                }
    except Exception:  # noqa: BLE001 - the deliveries are applied one by one instead
        context.forget_failed()
        log.exception("intake: opening %d new keys together failed", len(firsts))
        return set()
    now = timezone.now()
    for key, incident in opened.items():
        delivery = firsts[key]
        delivery.attempts += 1
        delivery.result = DeliveryResult.PROCESSED
        delivery.incidents = [incident.number]
        delivery.processed_at = now
        delivery.error = ""
    return {firsts[key].pk for key in opened}


def _process(delivery: Delivery, message, integration: Integration, *, context: Context) -> bool:
    """Apply one delivery (``message``: parsed, or the ``IntakeInvalid`` it raised) in a
    savepoint; the outcome is set on ``delivery`` (saved by the caller). False when it failed
    and stays pending (or gave up after ``MAX_ATTEMPTS``)."""
    delivery.attempts += 1
    if isinstance(message, IntakeInvalid):
        delivery.result = DeliveryResult.REJECTED
        delivery.error = "\n".join(message.errors)
        delivery.processed_at = timezone.now()
        return True
    try:
        with transaction.atomic():
            touched = (
                apply_group(integration, message, context)
                if isinstance(message, GroupIn)
                else apply_event(integration, message, context)
            )
    except Exception as exc:  # noqa: BLE001 - the delivery is kept and retried by the sweep
        context.forget_failed()  # the storm incident or new groups may be rolled back
        log.exception("intake: delivery %s failed, left pending", delivery.pk)
        delivery.error = f"{type(exc).__name__}: {exc}"[:2000]
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.result = DeliveryResult.FAILED
            return True  # given up: the deliveries behind it go on
        return False
    delivery.result = DeliveryResult.PROCESSED if touched else DeliveryResult.DROPPED
    delivery.incidents = sorted({i.number for i in touched})
    delivery.processed_at = timezone.now()
    delivery.error = ""
    return True


def process_pending_deliveries(*, min_age_seconds: int = 2) -> int:
    """Beat sweep (every few seconds): process the integrations that have deliveries pending
    for longer than ``min_age_seconds`` — the broker was down, a worker died, or processing
    failed and is due again. Safe to run twice: processors of one integration exclude each
    other, and each failure counts an attempt (``failed`` after ``MAX_ATTEMPTS``)."""
    cutoff = timezone.now() - timedelta(seconds=min_age_seconds)
    integration_ids = set(
        Delivery.objects.filter(result=DeliveryResult.PENDING, received_at__lte=cutoff)
        .values_list("integration_id", flat=True)
        .distinct()
    )
    return sum(process_deliveries(pk) for pk in sorted(integration_ids))


def prune_deliveries(*, now: datetime | None = None) -> int:
    """Delete deliveries older than their integration's retention (pending ones are kept)."""
    now = now or timezone.now()
    deleted = 0
    for integration in Integration.objects.only("pk", "delivery_retention_days"):
        cutoff = now - timedelta(days=integration.delivery_retention_days)
        count, _ = (
            Delivery.objects.filter(integration=integration, received_at__lt=cutoff)
            .exclude(result=DeliveryResult.PENDING)
            .delete()
        )
        deleted += count
    return deleted
