"""Accepting deliveries: the fast acknowledgement of a monitoring request.

- ``check_rate_limit``: requests per integration per minute (the API answers 429 + Retry-After).
- ``accept_delivery``: store the validated raw delivery as pending (one INSERT) and ring the
  processor's doorbell (a Celery task) after commit; a broker error is logged and swallowed, the
  delivery is safe in the database (``intake.processing`` applies it).
- ``record_rejected_delivery``: keep an invalid body in the delivery log with its errors.
"""

from __future__ import annotations

import json
import logging
import time

from celery import current_app
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from itsm.core.cache import count_hit

from .models import Delivery, DeliveryResult, Integration
from .parsing import MAX_BODY_BYTES, EventIn, GroupIn

log = logging.getLogger(__name__)

BELL_SECONDS = 10  # a queued processor run covers the deliveries stored meanwhile (see _ring)
BELL_LINGER = 0.5  # a doorbell run keeps looking for deliveries this long after it starts …
BELL_QUIET = 0.25  # … so a process that saw the bell rung skips ringing this long (< linger)
_bell_seen: dict[int, float] = {}  # integration id → when this process last saw the bell set
# The processor task (intake.tasks), enqueued by name: the task runs the processing that
# enqueues it again, so importing it here would be an import loop.
PROCESS_TASK = "incidents.process_deliveries"


RATE_LEASE_PARTS = 100  # a web process takes the minute's budget in 1 % leases
_rate_leases: dict[int, tuple[str, int]] = {}  # integration id → (window key, requests left)


def check_rate_limit(integration: Integration, *, now: float | None = None) -> int | None:
    """Count one request in the integration's current minute; the seconds to wait when over.

    The count is shared (the cache), but each web process leases the budget in parts of 1 % of
    the limit and spends a lease without asking again, so a busy integration costs one cache
    round trip per lease instead of per request. Never more than the limit is accepted in a
    minute; refusals may start a little early while other processes still hold unspent parts
    (at most one lease each)."""
    limit = integration.rate_limit_per_minute
    if not limit:
        return None
    now = now if now is not None else timezone.now().timestamp()
    key = f"intake-rate:{integration.pk}:{integration.secret_prefix}:{int(now // 60)}"
    lease_key, left = _rate_leases.get(integration.pk, ("", 0))
    if lease_key == key and left > 0:
        _rate_leases[integration.pk] = (key, left - 1)
        return None
    part = max(1, limit // RATE_LEASE_PARTS)
    granted = min(part, limit - (count_hit(key, 120, part) - part))
    if granted <= 0:
        _rate_leases.pop(integration.pk, None)
        return max(1, 60 - int(now % 60))
    _rate_leases[integration.pk] = (key, granted - 1)
    return None


def record_rejected_delivery(
    integration: Integration, *, fmt: str, body: bytes, errors: list[str]
) -> Delivery | None:
    """Keep an invalid body in the log so the sender's owner can see why nothing opened (not
    when the integration was deleted meanwhile: see ``accept_delivery``)."""
    try:
        return Delivery.objects.create(
            integration=integration,
            format=fmt,
            body=body[:MAX_BODY_BYTES].decode("utf-8", "replace"),
            result=DeliveryResult.REJECTED,
            processed_at=timezone.now(),
            error="\n".join(errors),
        )
    except IntegrityError:
        integration.forget()
        return None


# The request's one statement, written out: ``Delivery.objects.create`` (compiling the INSERT,
# building the instance, the save signals) cost a quarter of the endpoint's time (issue 5 budget,
# docs/benchmarks.md). The columns not named take their defaults in the model (processed_at NULL).
_INSERT_PENDING = (
    'INSERT INTO "incidents_delivery" ("integration_id", "format", "body", "received_at", '
    '"result", "attempts", "error", "alert_count", "incidents") '
    "VALUES (%s, %s, %s, %s, 'pending', 0, '', %s, '[]') RETURNING \"id\""
)


def accept_delivery(integration: Integration, *, fmt: str, body: bytes, message) -> int | None:
    """Store the validated delivery (pending), ring the processor's doorbell after commit and
    return the delivery's id — None when the integration was deleted since this process cached
    it (``Integration.authenticate``): the sender is then answered as for an unknown secret.

    This is all a request does (fast acknowledgement): one INSERT. The delivery is safe in the
    database from here on; ``process_deliveries`` applies it, and if the broker is down the
    ``process_pending_deliveries`` sweep does, so a 202 never loses a delivery.
    """
    text = body.decode("utf-8", "replace")
    if isinstance(message, EventIn):
        # The log never holds the secret in clear, and keeps the dedup_key as decided (generated
        # when the trigger had none), so the processor — and any retry — acts on the same key.
        stored = {**json.loads(text), "routing_key": "<redacted>", "dedup_key": message.dedup_key}
        text = json.dumps(stored, ensure_ascii=False)
    alert_count = len(message.alerts) if isinstance(message, GroupIn) else 1
    received_at = connection.ops.adapt_datetimefield_value(timezone.now())
    try:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_PENDING, [integration.pk, fmt, text, received_at, alert_count])
            (delivery_id,) = cursor.fetchone()
    except IntegrityError:  # the foreign key: the integration is gone
        integration.forget()
        return None
    transaction.on_commit(lambda pk=integration.pk: _ring(pk))
    return delivery_id


def bell_key(integration_id: int) -> str:
    return f"intake-bell:{integration_id}"


def _ring(integration_id: int) -> None:
    """Enqueue the processor for the integration unless a run is already queued for it.

    Coalesced through the cache: the first delivery sets the bell key and enqueues; later ones
    see the key and do not, because the queued run clears the key *before* it reads the pending
    deliveries, so it sees every delivery that found the key set. (Without a shared cache the
    bell key may outlive the run; the sweep then picks the deliveries up within seconds.)

    And coalesced in the process, so a burst costs one cache round trip per ``BELL_QUIET``
    seconds rather than one per delivery: once this process has seen the key set at time t, a
    run starts after t (the key is cleared only by a starting run) and keeps looking for
    deliveries until ``BELL_LINGER`` seconds after its start, so a delivery committed before
    t + ``BELL_QUIET`` is seen by it without ringing again.
    """
    now = time.time()
    if 0 <= now - _bell_seen.get(integration_id, -BELL_QUIET) < BELL_QUIET:
        return
    if cache.add(bell_key(integration_id), 1, timeout=BELL_SECONDS):  # none queued: queue one
        if not enqueue(integration_id):
            return
    _bell_seen[integration_id] = now


def enqueue(integration_id: int) -> bool:
    try:
        current_app.tasks[PROCESS_TASK].delay(integration_id)
    except Exception:  # noqa: BLE001 - broker down: the pending sweep processes it from the DB
        cache.delete(bell_key(integration_id))
        log.warning(
            "intake: broker unavailable, deliveries of integration %s left for the sweep",
            integration_id,
        )
        return False
    return True
