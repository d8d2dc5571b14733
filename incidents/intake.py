"""Monitoring intake use cases (DESIGN.md § Monitoring intake; seed §8.3.1 検知 by 監視アラート).

- ``create_integration``, ``rotate_secret``, ``revoke_secret``: integrations as data, each with its
  own hashed, revocable secret and default mapping rules (``severity=critical`` → P1 …).
- ``parse_alertmanager``, ``parse_event``: validate an Alertmanager webhook (v4, and Grafana's
  superset of it) or a PagerDuty Events v2 body into plain messages; ``IntakeInvalid`` lists
  what is wrong (the API answers 400 with it).
- ``check_rate_limit``: requests per integration per minute (the API answers 429 + Retry-After).
- ``accept_delivery``: the fast acknowledgement — store the validated raw delivery as pending
  (one INSERT) and ring the processor's doorbell (a Celery task) after commit; a broker error is
  logged and swallowed, the delivery is safe in the database.
- ``record_rejected_delivery``: keep an invalid body in the delivery log with its errors.
- ``process_deliveries``: apply the pending deliveries of one integration in order, in batches,
  under the integration's lock — upsert alerts by fingerprint, open or join the group's incident
  (at most one open per key, held by the database), record firing/resolved on the timeline,
  recover the incident when all its alerts are resolved (never close it), open a new linked
  incident when a group fires again after its incident was closed, and collapse alert storms
  (more than ``storm_threshold`` new groups within ``storm_window_minutes``, default 10 in 5)
  into one announced storm incident whose priority rises to the highest of its members'.
- ``member_groups``, ``split_group``: a storm incident's alert groups, and splitting one out into
  its own incident (operators and up; 409 when it already has one).
- ``process_pending_deliveries``: the beat sweep (every 5 s) that processes what the doorbell
  missed (broker down, worker died) or what failed and is due again.
- ``prune_deliveries``: drop deliveries older than each integration's retention.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from itsm.core import workflow
from itsm.core.audit import record_event
from itsm.core.cache import count_hit
from itsm.core.roles import ops_rank

from . import services
from .choices import PRIORITY_ORDER, IncidentState, Priority, Source, TimelineKind
from .models import (
    Alert,
    AlertGroup,
    AlertStatus,
    Delivery,
    DeliveryResult,
    Incident,
    Integration,
    IntegrationKind,
    MappingRule,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 512 * 1024
MAX_ALERTS_PER_DELIVERY = 5000
MAX_ATTEMPTS = 10
BATCH_DELIVERIES = 50  # deliveries applied per transaction by the processor
BATCH_ALERTS = 5000  # … and at most this many alerts (one delivery may carry more)
BELL_SECONDS = 10  # a queued processor run covers the deliveries stored meanwhile (see _ring)
BELL_LINGER = 0.5  # a doorbell run keeps looking for deliveries this long after it starts …
BELL_QUIET = 0.25  # … so a process that saw the bell rung skips ringing this long (< linger)
BELL_POLL = 0.05
_bell_seen: dict[int, float] = {}  # integration id → when this process last saw the bell set
KEY_MAX = 255

# Events v2 severities and the default rules every new integration starts with (data afterwards).
EVENT_SEVERITIES = ("critical", "error", "warning", "info")
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
DEFAULT_RULES = [
    ("severity", "critical", Priority.P1),
    ("severity", "error", Priority.P2),
    ("severity", "warning", Priority.P3),
    ("severity", "info", Priority.P4),
]


class IntakeInvalid(Exception):
    """The body cannot be accepted; ``errors`` are messages a sender can act on."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# ---------------------------------------------------------------------------- integrations


def create_integration(
    *, name: str, kind: str = IntegrationKind.ALERTMANAGER, actor=None, **fields
) -> tuple[Integration, str]:
    """Create an integration with the default severity rules; returns ``(integration, secret)``.
    The secret is shown once and only its digest is kept."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A name is required.")})
    if kind not in IntegrationKind.values:
        raise ValidationError({"kind": _("Unknown integration kind.")})
    with transaction.atomic():
        integration = Integration(name=name, kind=kind, **fields)
        raw = integration.set_new_secret()
        integration.save()
        add_default_rules(integration)
        record_event(integration, action="create", actor=actor, data={"kind": kind})
    return integration, raw


def add_default_rules(integration: Integration) -> None:
    if integration.rules.exists():
        return
    MappingRule.objects.bulk_create(
        MappingRule(integration=integration, order=(i + 1) * 10, label=lbl, value=val, priority=p)
        for i, (lbl, val, p) in enumerate(DEFAULT_RULES)
    )


def rotate_secret(integration: Integration, *, actor) -> str:
    """Issue a new secret (the old one stops working at once); returns it, shown once."""
    with transaction.atomic():
        raw = integration.set_new_secret()
        integration.save(
            update_fields=[
                "secret_prefix",
                "secret_digest",
                "secret_issued_at",
                "secret_revoked_at",
            ]
        )
        record_event(integration, action="rotate_secret", actor=actor)
    return raw


def revoke_secret(integration: Integration, *, actor) -> Integration:
    with transaction.atomic():
        integration.secret_revoked_at = timezone.now()
        integration.save(update_fields=["secret_revoked_at"])
        record_event(integration, action="revoke_secret", actor=actor)
    return integration


# ---------------------------------------------------------------------------- rate limit


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


# ---------------------------------------------------------------------------- parsing


@dataclass
class AlertIn:
    fingerprint: str
    status: str
    labels: dict
    annotations: dict
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""

    @property
    def name(self) -> str:
        return str(self.labels.get("alertname") or self.fingerprint)[:255]

    @property
    def summary(self) -> str:
        a = self.annotations
        return str(a.get("summary") or a.get("description") or a.get("message") or "")


@dataclass
class GroupIn:
    """One Alertmanager/Grafana notification: the whole current state of one group."""

    key: str
    alerts: list[AlertIn]
    common_labels: dict = field(default_factory=dict)
    common_annotations: dict = field(default_factory=dict)
    external_url: str = ""
    title: str = ""


@dataclass
class EventIn:
    """One PagerDuty Events v2 event."""

    routing_key: str
    action: str
    dedup_key: str
    generated_key: bool = False
    summary: str = ""
    source: str = ""
    severity: str = ""
    timestamp: datetime | None = None
    component: str = ""
    group: str = ""
    event_class: str = ""
    custom_details: object = None
    links: list = field(default_factory=list)
    client_url: str = ""

    @property
    def labels(self) -> dict:
        labels = {
            "severity": self.severity,
            "source": self.source,
            "component": self.component,
            "group": self.group,
            "class": self.event_class,
        }
        if isinstance(self.custom_details, dict):
            for k, v in self.custom_details.items():
                if isinstance(v, str | int | float | bool) and str(k) not in labels:
                    labels[str(k)] = str(v)
        return {k: v for k, v in labels.items() if v != ""}


def load_json(body: bytes) -> object:
    if len(body) > MAX_BODY_BYTES:
        raise IntakeInvalid([_("The body is larger than 512 KB.")])
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntakeInvalid([_("The body is not valid JSON: %(error)s") % {"error": exc}]) from exc


def _time(value, where: str, errors: list[str]) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors.append(_("%(where)s must be an RFC 3339 time.") % {"where": where})
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        errors.append(_("%(where)s must be an RFC 3339 time.") % {"where": where})
        return None
    if moment.year < 1971:  # Alertmanager's "0001-01-01T00:00:00Z" means "not set"
        return None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def _str_map(value, where: str, errors: list[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(_("%(where)s must be an object of strings.") % {"where": where})
        return {}
    return {str(k)[:200]: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _url(value) -> str:
    return (
        value[:2000] if isinstance(value, str) and value.startswith(("http://", "https://")) else ""
    )


def _short_key(key: str) -> str:
    if len(key) <= KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


_ALERT_STATUSES = frozenset(AlertStatus.values)  # (``.values`` builds a list on every use)


def parse_alertmanager(data) -> GroupIn:
    """Alertmanager webhook (version 4) or Grafana's webhook, which adds fields to the same
    shape; unknown fields are ignored."""
    if not isinstance(data, dict):
        raise IntakeInvalid([_("The body must be a JSON object.")])
    errors: list[str] = []
    alerts_raw = data.get("alerts")
    if not isinstance(alerts_raw, list):
        raise IntakeInvalid([_("“alerts” must be a list.")])
    if len(alerts_raw) > MAX_ALERTS_PER_DELIVERY:
        raise IntakeInvalid(
            [_("At most %(n)d alerts per delivery.") % {"n": MAX_ALERTS_PER_DELIVERY}]
        )
    common_labels = _str_map(data.get("commonLabels"), "commonLabels", errors)
    group_labels = _str_map(data.get("groupLabels"), "groupLabels", errors)
    alerts: list[AlertIn] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(alerts_raw):
        where = f"alerts[{index}]"
        if not isinstance(raw, dict):
            errors.append(_("%(where)s must be an object.") % {"where": where})
            continue
        status = raw.get("status")
        if status not in _ALERT_STATUSES:
            errors.append(_("%(where)s.status must be “firing” or “resolved”.") % {"where": where})
            continue
        labels = _str_map(raw.get("labels"), f"{where}.labels", errors)
        annotations = _str_map(raw.get("annotations"), f"{where}.annotations", errors)
        fingerprint = raw.get("fingerprint")
        if fingerprint is not None and not isinstance(fingerprint, str):
            errors.append(_("%(where)s.fingerprint must be a string.") % {"where": where})
            continue
        if not fingerprint:
            # Old Grafana versions send none: the labels identify the alert, as in Alertmanager.
            fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[
                :16
            ]
        alert = AlertIn(
            fingerprint=fingerprint[:KEY_MAX],
            status=status,
            labels=labels,
            annotations=annotations,
            starts_at=_time(raw.get("startsAt"), f"{where}.startsAt", errors),
            ends_at=_time(raw.get("endsAt"), f"{where}.endsAt", errors),
            generator_url=_url(raw.get("generatorURL")),
        )
        if alert.fingerprint in seen:  # the same alert twice in one body: the last one counts
            alerts[seen[alert.fingerprint]] = alert
        else:
            seen[alert.fingerprint] = len(alerts)
            alerts.append(alert)
    key = data.get("groupKey")
    if key is not None and not isinstance(key, str):
        errors.append(_("“groupKey” must be a string."))
    if errors:
        raise IntakeInvalid(errors)
    if not key:
        # Without a groupKey (hand-written senders) the group labels identify the group.
        basis = group_labels or common_labels or {"fingerprints": sorted(seen)}
        key = "labels:" + json.dumps(basis, sort_keys=True)
    return GroupIn(
        key=_short_key(key),
        alerts=alerts,
        common_labels=common_labels,
        common_annotations=_str_map(data.get("commonAnnotations"), "commonAnnotations", []),
        external_url=_url(data.get("externalURL")),
        title=data.get("title") if isinstance(data.get("title"), str) else "",
    )


def parse_event(data) -> EventIn:
    """A PagerDuty Events API v2 event (``POST /v2/enqueue`` body); unknown fields ignored."""
    if not isinstance(data, dict):
        raise IntakeInvalid([_("The body must be a JSON object.")])
    errors: list[str] = []
    routing_key = data.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key:
        errors.append(_("“routing_key” is required."))
    action = data.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append(
            _("“event_action” must be one of: %(choices)s.") % {"choices": ", ".join(EVENT_ACTIONS)}
        )
    dedup_key = data.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > KEY_MAX):
        errors.append(_("“dedup_key” must be a string of at most 255 characters."))
        dedup_key = None
    event = EventIn(routing_key=routing_key or "", action=action or "", dedup_key=dedup_key or "")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append(_("“dedup_key” is required to acknowledge or resolve."))
    if action == "trigger":
        payload = data.get("payload")
        if not isinstance(payload, dict):
            errors.append(_("“payload” is required for a trigger."))
            payload = {}
        for name, limit in (("summary", 1024), ("source", 255)):
            value = payload.get(name)
            if not isinstance(value, str) or not value.strip():
                errors.append(_("“payload.%(name)s” is required.") % {"name": name})
            elif len(value) > limit:
                errors.append(
                    _("“payload.%(name)s” is longer than %(n)d characters.")
                    % {"name": name, "n": limit}
                )
        severity = payload.get("severity")
        if severity not in EVENT_SEVERITIES:
            errors.append(
                _("“payload.severity” must be one of: %(choices)s.")
                % {"choices": ", ".join(EVENT_SEVERITIES)}
            )
        event.summary = str(payload.get("summary") or "").strip()
        event.source = str(payload.get("source") or "")[:255]
        event.severity = severity if severity in EVENT_SEVERITIES else ""
        event.timestamp = _time(payload.get("timestamp"), "payload.timestamp", errors)
        for attr, name in (
            ("component", "component"),
            ("group", "group"),
            ("event_class", "class"),
        ):
            value = payload.get(name)
            if value is not None and not isinstance(value, str):
                errors.append(_("“payload.%(name)s” must be a string.") % {"name": name})
            setattr(event, attr, (value or "")[:255] if isinstance(value, str) else "")
        event.custom_details = payload.get("custom_details")
        links = data.get("links") or []
        if not isinstance(links, list):
            errors.append(_("“links” must be a list."))
            links = []
        event.links = [
            {"href": _url(link.get("href")), "text": str(link.get("text") or "")[:200]}
            for link in links[:20]
            if isinstance(link, dict) and _url(link.get("href"))
        ]
        event.client_url = _url(data.get("client_url"))
        if not dedup_key:
            event.dedup_key = uuid.uuid4().hex
            event.generated_key = True
    if errors:
        raise IntakeInvalid(errors)
    return event


# ---------------------------------------------------------------------------- deliveries


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


def _bell_key(integration_id: int) -> str:
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
    if cache.add(_bell_key(integration_id), 1, timeout=BELL_SECONDS):  # none queued: queue one
        if not _enqueue(integration_id):
            return
    _bell_seen[integration_id] = now


def _enqueue(integration_id: int) -> bool:
    from .tasks_intake import process_deliveries as task

    try:
        task.delay(integration_id)
    except Exception:  # noqa: BLE001 - broker down: the pending sweep processes it from the DB
        cache.delete(_bell_key(integration_id))
        log.warning(
            "intake: broker unavailable, deliveries of integration %s left for the sweep",
            integration_id,
        )
        return False
    return True


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
    cache.delete(_bell_key(integration_id))  # deliveries stored from now on ring again
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
            cache.set(_bell_key(integration_id), 1, timeout=BELL_SECONDS)
            _enqueue(integration_id)
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
        context = _Context(integration)
        processed = []
        for delivery in batch:
            delivery.integration = integration
            ok = _process(delivery, integration, context=context)
            processed.append(delivery)
            if not ok:
                break
        Delivery.objects.bulk_update(
            processed, ["result", "incidents", "processed_at", "attempts", "error"]
        )
        last = max(d.received_at for d in processed)
        if integration.last_delivery_at is None or integration.last_delivery_at < last:
            Integration.objects.filter(pk=integration.pk).update(last_delivery_at=last)
    if not ok:
        return len(processed), _FAILED  # keep the order: the sweep retries the failed one first
    pending = Delivery.objects.filter(integration_id=integration_id, result=DeliveryResult.PENDING)
    return len(processed), _MORE if pending.exists() else _IDLE


class _Context:
    """What a batch reads once: the integration's mapping rules, and during an alert storm the
    storm incident (found once, not once per new group: a storm is when groups pour in)."""

    def __init__(self, integration: Integration):
        self.rules = list(integration.rules.select_related("service"))
        self.storm: Incident | None = None


def _parse_stored(delivery: Delivery):
    data = load_json(delivery.body.encode())
    if delivery.format == IntegrationKind.ALERTMANAGER:
        return parse_alertmanager(data)
    return parse_event(data)


def _process(delivery: Delivery, integration: Integration, *, context: _Context) -> bool:
    """Apply one delivery in a savepoint; the outcome is set on ``delivery`` (saved by the
    caller). False when it failed and stays pending (or gave up after ``MAX_ATTEMPTS``)."""
    delivery.attempts += 1
    try:
        message = _parse_stored(delivery)
    except IntakeInvalid as exc:
        delivery.result = DeliveryResult.REJECTED
        delivery.error = "\n".join(exc.errors)
        delivery.processed_at = timezone.now()
        return True
    try:
        with transaction.atomic():
            touched = (
                _apply_group(integration, message, context)
                if isinstance(message, GroupIn)
                else _apply_event(integration, message, context)
            )
    except Exception as exc:  # noqa: BLE001 - the delivery is kept and retried by the sweep
        context.storm = None  # it may have been opened in the savepoint just rolled back
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


# ---------------------------------------------------------------------------- mapping


def _mapping(integration: Integration, labels: dict, rules: list[MappingRule]) -> dict:
    """Each field from the first matching rule that sets it (rules in order)."""
    out: dict = {}
    for rule in rules:
        if not rule.matches(labels):
            continue
        for name in ("priority", "impact_scope", "business_impact", "urgency"):
            value = getattr(rule, name)
            if value and name not in out:
                out[name] = value
        if rule.service_id and "service" not in out:
            out["service"] = rule.service
    return out


def _highest(priorities) -> str:
    ranked = [p for p in priorities if p in PRIORITY_ORDER]
    return min(ranked, key=PRIORITY_ORDER.index) if ranked else ""


def _triage_inputs(integration: Integration, mappings: list[dict]) -> dict:
    """Triage inputs for a new incident from the mappings of its firing alerts."""
    first = mappings[0] if mappings else {}
    inputs = {
        "priority": _highest(m.get("priority", "") for m in mappings),
        "service": next((m["service"] for m in mappings if m.get("service")), None)
        or integration.service,
    }
    if not inputs["priority"] and all(
        first.get(k) for k in ("impact_scope", "business_impact", "urgency")
    ):
        inputs.update({k: first[k] for k in ("impact_scope", "business_impact", "urgency")})
    elif not inputs["priority"]:
        inputs["priority"] = integration.default_priority
    return inputs


# ---------------------------------------------------------------------------- groups & incidents


def _open_group(integration, key, *, opener, context: _Context) -> AlertGroup | None:
    """The open group for ``key``, locked; a new one (with its incident) when ``opener`` is given.

    The processor holds the integration's lock, so deliveries of one integration are applied
    one at a time; the partial unique constraint still holds the invariant on its own: an
    INSERT that loses a race catches the IntegrityError and joins the winner's group.
    """
    # The newest episode of the key is the open one if there is one, else the previous episode.
    latest = _locked_latest_group(integration, key)
    group = latest if latest is not None and latest.is_open else None
    previous = None if group is not None else latest
    if group is not None and (
        group.incident is None or group.incident.state == IncidentState.CLOSED
    ):
        _close_group(group)
        previous, group = group, None
    if group is not None or opener is None:
        return group
    storm = context.storm
    priority = opener.get("priority") or ""
    if storm is not None and not priority:
        priority = _mapped_priority(integration, opener)
    try:
        with transaction.atomic():
            group = AlertGroup.objects.create(
                integration=integration,
                key=key,
                previous=previous,
                labels=opener["labels"],
                service=opener["service"],
                priority=priority,
                incident=storm,  # known storming: the new group joins at once
            )
    except IntegrityError:
        return _locked_open_group(integration, key, wait=True)
    group.is_new = True
    if storm is not None:
        _join_storm(storm, group, integration)
        return group
    if _storming(integration, group):
        group.priority = group.priority or _mapped_priority(integration, opener)
        context.storm = group.incident = _storm_incident(integration, group)
        AlertGroup.objects.filter(pk=group.pk).update(
            incident=group.incident, priority=group.priority
        )
        _join_storm(group.incident, group, integration)
        return group
    incident = services.open_incident(
        title=opener["title"],
        description=opener["description"],
        source=Source.MONITORING,
        service=opener["service"],
        impact_scope=opener.get("impact_scope"),
        business_impact=opener.get("business_impact"),
        urgency=opener.get("urgency"),
        priority=opener.get("priority"),
        actor=None,
        system_label=integration.name,
        detected_at=opener["detected_at"],
        # An alert firing long before it reached the portal keeps its start as the detection
        # time; its response clock and escalation count from now (issue 14).
        received_at=timezone.now(),
    )
    if integration.team_id:
        services.update_incident(incident, actor=None, team=integration.team)
    group.incident = incident
    group.opened_incident = True
    group.priority = incident.priority
    AlertGroup.objects.filter(pk=group.pk).update(
        incident=incident, opened_incident=True, priority=incident.priority
    )
    if previous is not None and previous.incident is not None:
        _link(incident, previous.incident, integration)
    return group


def _locked_latest_group(integration, key: str):
    """The newest (non-storm) episode of the key, locked until the end of the transaction."""
    return (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(integration=integration, key=key, is_storm=False)
        .order_by("-id")
        .first()
    )


def _locked_open_group(integration, key: str, *, storm: bool = False, wait: bool = False):
    """The open group row for the key, locked until the end of the transaction. ``wait``:
    after losing the INSERT race the winner's row must exist."""
    rows = AlertGroup.objects.select_for_update(of=("self",)).select_related("incident")
    rows = rows.filter(integration=integration, key=key, is_storm=storm, is_open=True)
    return rows.get() if wait else rows.first()


def _close_group(group: AlertGroup) -> None:
    group.is_open = False
    group.closed_at = timezone.now()
    AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=group.closed_at)


def _link(new: Incident, old: Incident, integration: Integration) -> None:
    services.add_timeline_entry(
        new,
        actor=None,
        kind=TimelineKind.LINK,
        system_label=integration.name,
        text=_("The same alerts fired again after %(old)s.") % {"old": old.number},
        data={"previous_incident": old.number},
    )
    services.add_timeline_entry(
        old,
        actor=None,
        kind=TimelineKind.LINK,
        system_label=integration.name,
        text=_("The same alerts fired again: %(new)s opened.") % {"new": new.number},
        data={"next_incident": new.number},
    )


def _storming(integration: Integration, group: AlertGroup) -> bool:
    """The storm rule, asked once per new group until a batch knows the storm (never per alert):
    more than ``storm_threshold`` new groups of the integration within the storm window, counting
    ``group``. Every new group counts, also those that joined a storm incident, so storm mode
    lasts while the storm does. The count stops at the threshold (an index range scan)."""
    since = timezone.now() - timedelta(minutes=integration.storm_window_minutes)
    threshold = integration.storm_threshold
    others = AlertGroup.objects.filter(
        integration=integration, is_storm=False, opened_at__gte=since
    ).exclude(pk=group.pk)
    return others[:threshold].count() >= threshold


def _mapped_priority(integration: Integration, opener: dict) -> str:
    """The priority a new group's mapping rules give it (via the triage matrix when the rules
    give its inputs instead of a priority)."""
    if opener.get("priority"):
        return opener["priority"]
    inputs = [opener.get(k) for k in ("impact_scope", "business_impact", "urgency")]
    if all(inputs):
        return services.priority_for(*inputs)
    return integration.default_priority


def _join_storm(incident: Incident, group: AlertGroup, integration: Integration) -> None:
    """A group joined the storm incident: a higher mapped priority raises the incident's (the
    incidents service audits it and moves the response target); a lower one changes nothing.
    Compared in memory first, so a join costs no query unless the priority rises."""
    if not group.priority or not incident.priority:
        return
    if PRIORITY_ORDER.index(group.priority) >= PRIORITY_ORDER.index(incident.priority):
        return
    services.raise_priority(
        incident,
        priority=group.priority,
        reason=_("alert group “%(group)s” (%(priority)s) joined the alert storm.")
        % {"group": group.name, "priority": group.priority},
        system_label=integration.name,
    )


def _storm_incident(integration: Integration, group: AlertGroup) -> Incident:
    """The open storm incident of the integration, opened (and announced, once) if needed, with
    the priority of ``group``, the first to join it."""
    storm = _locked_open_group(integration, "", storm=True)
    if storm is not None and storm.incident is not None and storm.incident.is_open:
        return storm.incident
    if storm is not None:
        _close_group(storm)
    try:
        with transaction.atomic():
            storm = AlertGroup.objects.create(integration=integration, key="", is_storm=True)
    except IntegrityError:
        return _locked_open_group(integration, "", storm=True, wait=True).incident
    text = _(
        "Alert storm: %(name)s sent more than %(n)d new alert groups within %(m)d minutes. "
        "While that lasts, further new alert groups join this incident instead of opening "
        "their own; its priority is the highest of theirs. Split a group out into its own "
        "incident from the list of alert groups."
    ) % {
        "name": integration.name,
        "n": integration.storm_threshold,
        "m": integration.storm_window_minutes,
    }
    incident = services.open_incident(
        title=_("Alert storm: %(name)s") % {"name": integration.name},
        description=text,
        source=Source.MONITORING,
        service=group.service,
        priority=group.priority or integration.default_priority,
        actor=None,
        system_label=integration.name,
    )
    if integration.team_id:
        services.update_incident(incident, actor=None, team=integration.team)
    services.add_timeline_entry(
        incident,
        actor=None,
        system_label=integration.name,
        text=text,
        data={"storm": True, "integration": integration.pk},
    )
    record_event(
        integration,
        action="storm_started",
        actor_label=integration.name,
        data={"incident": incident.number},
    )
    storm.incident = incident
    storm.opened_incident = False
    AlertGroup.objects.filter(pk=storm.pk).update(incident=incident)
    return incident


def _names(alerts, limit: int = 5) -> str:
    names = [a.name for a in alerts[:limit]]
    more = len(alerts) - limit
    text = ", ".join(names)
    return text + (_(" and %(n)d more") % {"n": more} if more > 0 else "")


def _timeline_alerts(incident, integration, *, firing, resolved) -> None:
    if firing:
        services.add_timeline_entry(
            incident,
            actor=None,
            system_label=integration.name,
            text=_("%(n)d alert(s) firing: %(names)s")
            % {"n": len(firing), "names": _names(firing)},
            data={"alerts": "firing", "fingerprints": [a.fingerprint for a in firing[:50]]},
        )
    if resolved:
        services.add_timeline_entry(
            incident,
            actor=None,
            system_label=integration.name,
            text=_("%(n)d alert(s) resolved: %(names)s")
            % {"n": len(resolved), "names": _names(resolved)},
            data={"alerts": "resolved", "fingerprints": [a.fingerprint for a in resolved[:50]]},
        )


# The states an incident can be auto-recovered from (``Incident.auto_recover``): an
# untriaged incident waits for a person, a verifying or closed one is recovered already.
AUTO_RECOVERABLE = frozenset(
    {IncidentState.TRIAGED, IncidentState.INVESTIGATING, IncidentState.RECOVERING}
)


def _recover(incident: Incident, integration: Integration, reason: str) -> None:
    """Resolve = recovered (まず復旧): the incident goes to ``verifying`` with its recovery time;
    a person verifies and closes it. The monitor's resolve is not a response: unless a person
    or an API client (Events v2 ``acknowledge``) responded before, the incident keeps no
    ``response_started_at`` and counts as auto-recovered, not in MTTA or response compliance
    (docs/metrics.md § Incidents)."""
    if not integration.auto_recover or incident.state not in AUTO_RECOVERABLE:
        return
    by_monitor = (
        _("Recovered by the monitor; nobody has responded.")
        if incident.response_started_at is None
        else _("Recovered by the monitor.")
    )
    comment = f"{reason} {by_monitor}"
    workflow.apply_transition(
        incident, "auto_recover", actor=None, comment=comment, system_label=integration.name
    )


def _fired_again(incident: Incident, integration: Integration) -> None:
    """Alerts fire again on an incident that the intake had marked recovered: back to work —
    to ``recovering`` when somebody had responded, else back to ``triaged``, waiting for one."""
    if incident.state == IncidentState.VERIFYING and integration.auto_recover:
        workflow.apply_transition(
            incident,
            "alerts_refire" if incident.response_started_at is None else "reject_fix",
            actor=None,
            comment=_("Alerts are firing again."),
            system_label=integration.name,
        )


def _alert_title(message: GroupIn, firing: list[AlertIn]) -> str:
    """The alert name and summary. No alert count: the count changes with every delivery and a
    title is not rewritten for that (the incident page counts the alerts, live)."""
    first = firing[0]
    name = message.common_labels.get("alertname") or first.name
    summary = message.common_annotations.get("summary") or first.summary
    return _title(name, summary)


def _title(name: str, summary: str) -> str:
    return (f"{name}: {summary}" if summary and summary != name else name)[:200]


def _alert_description(message: GroupIn, firing: list[AlertIn]) -> str:
    lines = []
    text = message.common_annotations.get("description") or firing[0].annotations.get(
        "description", ""
    )
    if text:
        lines += [text, ""]
    labels = message.common_labels or firing[0].labels
    lines += [f"{k}={v}" for k, v in sorted(labels.items())]
    if message.external_url:
        lines += ["", message.external_url]
    return "\n".join(lines)


def _apply_group(integration: Integration, message: GroupIn, context: _Context) -> list[Incident]:
    """One Alertmanager notification: upsert its alerts by fingerprint within the group's open
    episode (one query for the existing fingerprints, one INSERT for the new alerts, one UPDATE
    for the plain repeats); firing opens or joins, resolved is recorded once per delivery on the
    timeline (repeats add nothing there); all resolved → recovered."""
    now = timezone.now()
    rules = context.rules
    firing = [a for a in message.alerts if a.status == AlertStatus.FIRING]
    opener = None
    if firing:
        mappings = [
            _mapping(integration, {**message.common_labels, **a.labels}, rules) for a in firing
        ]
        starts = [a.starts_at for a in firing if a.starts_at]
        opener = {
            "title": _alert_title(message, firing),
            "description": _alert_description(message, firing),
            "labels": message.common_labels,
            "detected_at": min([*starts, now]),
            **_triage_inputs(integration, mappings),
        }
    group = _open_group(integration, message.key, opener=opener, context=context)
    if group is None:
        # Resolutions for an episode that was closed by a person: record them on its alerts.
        last = (
            AlertGroup.objects.filter(integration=integration, key=message.key, is_storm=False)
            .order_by("-opened_at", "-id")
            .first()
        )
        if last is not None:
            Alert.objects.filter(
                group=last,
                fingerprint__in=[a.fingerprint for a in message.alerts],
                status=AlertStatus.FIRING,
            ).update(status=AlertStatus.RESOLVED, resolved_at=now, last_seen_at=now)
        return []
    incident = group.incident
    existing = (
        {}
        if getattr(group, "is_new", False)
        else {
            a.fingerprint: a
            for a in Alert.objects.filter(
                group=group, fingerprint__in=[a.fingerprint for a in message.alerts]
            )
        }
    )
    new_rows, changed, newly_firing, newly_resolved = [], [], [], []
    repeats: dict[str, list[int]] = {AlertStatus.FIRING: [], AlertStatus.RESOLVED: []}
    for item in message.alerts:
        row = existing.get(item.fingerprint)
        if row is None:
            new_rows.append(_new_alert(item, group=group, incident=incident, now=now))
            (newly_firing if item.status == AlertStatus.FIRING else newly_resolved).append(item)
            continue
        if _same_alert(row, item):
            repeats[item.status].append(row.pk)  # the usual case: Alertmanager resends the group
            continue
        if row.status != item.status:
            (newly_firing if item.status == AlertStatus.FIRING else newly_resolved).append(item)
        elif item.status == AlertStatus.FIRING:
            row.repeat_count += 1
        changed.append(row)
        row.status = item.status
        row.name = item.name
        row.summary = item.summary
        row.labels = item.labels
        row.annotations = item.annotations
        row.starts_at = item.starts_at or row.starts_at
        row.ends_at = item.ends_at
        row.generator_url = item.generator_url
        row.last_seen_at = now
        row.resolved_at = (row.resolved_at or now) if item.status == AlertStatus.RESOLVED else None
    _insert_alerts(new_rows)
    if repeats[AlertStatus.FIRING]:
        Alert.objects.filter(pk__in=repeats[AlertStatus.FIRING]).update(
            repeat_count=F("repeat_count") + 1, last_seen_at=now
        )
    if repeats[AlertStatus.RESOLVED]:
        Alert.objects.filter(pk__in=repeats[AlertStatus.RESOLVED]).update(last_seen_at=now)
    if changed:
        Alert.objects.bulk_update(
            changed,
            [
                "status",
                "name",
                "summary",
                "labels",
                "annotations",
                "starts_at",
                "ends_at",
                "generator_url",
                "last_seen_at",
                "resolved_at",
                "repeat_count",
            ],
        )
    if incident is None:
        return []
    _timeline_alerts(incident, integration, firing=newly_firing, resolved=newly_resolved)
    if newly_firing:
        _fired_again(incident, integration)
    if newly_resolved and not incident.alerts.filter(status=AlertStatus.FIRING).exists():
        _recover(incident, integration, _("All alerts resolved."))
    return [incident]


def _new_alert(item: AlertIn, *, group: AlertGroup, incident: Incident | None, now) -> dict:
    """A new alert row as column values: a storm inserts thousands, and building model instances
    only to read them back was most of a delivery's Python time."""
    return {
        "group_id": group.pk,
        "incident_id": incident.pk if incident is not None else None,
        "fingerprint": item.fingerprint,
        "status": item.status,
        "name": item.name,
        "summary": item.summary,
        "labels": item.labels,
        "annotations": item.annotations,
        "starts_at": item.starts_at,
        "ends_at": item.ends_at,
        "generator_url": item.generator_url,
        "repeat_count": 0,
        "first_seen_at": now,
        "last_seen_at": now,
        "resolved_at": now if item.status == AlertStatus.RESOLVED else None,
    }


_PG_TYPES = {
    "CharField": "text",
    "TextField": "text",
    "JSONField": "jsonb",
    "DateTimeField": "timestamptz",
    "ForeignKey": "bigint",
    "PositiveIntegerField": "bigint",
    "IntegerField": "bigint",
    "BooleanField": "boolean",
}


def _insert_alerts(rows: list[dict]) -> None:
    """One INSERT for a delivery's new alerts (``_new_alert`` rows). On PostgreSQL the rows
    travel as one JSON parameter expanded by ``jsonb_to_recordset``: a fraction of
    bulk_create's per-row Python cost, which dominated alert storms."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Alert.objects.bulk_create(Alert(**row) for row in rows)
        return
    fields = [Alert._meta.get_field(name.removesuffix("_id")) for name in rows[0]]
    for row in rows:
        for name in ("starts_at", "ends_at", "first_seen_at", "last_seen_at", "resolved_at"):
            if row[name] is not None:
                row[name] = row[name].isoformat()
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    spec = ", ".join(f"{qn(f.column)} {_PG_TYPES[f.get_internal_type()]}" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(Alert._meta.db_table)} ({columns}) "  # noqa: S608 - names from _meta
            f"SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS r({spec})",
            [json.dumps(rows, ensure_ascii=False)],
        )


def _same_alert(row: Alert, item: AlertIn) -> bool:
    """A resend of the alert as stored: only its repeat count and last-seen time change."""
    return (
        row.status == item.status
        and row.name == item.name
        and row.summary == item.summary
        and row.labels == item.labels
        and row.annotations == item.annotations
        and row.starts_at == (item.starts_at or row.starts_at)
        and row.ends_at == item.ends_at
        and row.generator_url == item.generator_url
    )


def _apply_event(integration: Integration, event: EventIn, context: _Context) -> list[Incident]:
    """One Events v2 event: trigger opens or repeats, acknowledge = start response, resolve =
    recovered (the dedup key's episode ends, so a later trigger opens a new incident)."""
    now = timezone.now()
    if event.action == "trigger":
        rules = context.rules
        labels = event.labels
        description = [event.summary, "", f"source={event.source}"]
        description += [f"{k}={v}" for k, v in sorted(labels.items()) if k != "source"]
        if event.custom_details is not None:
            description += ["", json.dumps(event.custom_details, ensure_ascii=False, indent=2)]
        description += [link["href"] for link in event.links]
        opener = {
            "title": event.summary[:200],
            "description": "\n".join(description),
            "labels": labels,
            "detected_at": min(event.timestamp or now, now),
            **_triage_inputs(integration, [_mapping(integration, labels, rules)]),
        }
    else:
        opener = None
    group = _open_group(integration, event.dedup_key, opener=opener, context=context)
    if group is None:
        return []  # acknowledge/resolve with nothing open: accepted and dropped, like PagerDuty
    incident = group.incident
    alert = (
        None
        if getattr(group, "is_new", False)
        else Alert.objects.filter(group=group, fingerprint=event.dedup_key).first()
    )
    if event.action == "trigger":
        href = event.client_url or (event.links[0]["href"] if event.links else "")
        if alert is None:
            alert = Alert.objects.create(
                group=group,
                incident=incident,
                fingerprint=event.dedup_key,
                name=event.summary[:255],
                summary=event.summary,
                labels=labels,
                annotations={"custom_details": event.custom_details}
                if event.custom_details
                else {},
                starts_at=event.timestamp or now,
                generator_url=href,
                first_seen_at=now,
                last_seen_at=now,
            )
            _timeline_alerts(incident, integration, firing=[alert], resolved=[])
        else:
            Alert.objects.filter(pk=alert.pk).update(
                repeat_count=alert.repeat_count + 1, last_seen_at=now, summary=event.summary
            )
        return [incident]
    if event.action == "acknowledge":
        if incident.state == IncidentState.TRIAGED:
            workflow.apply_transition(
                incident,
                "start_response",
                actor=None,
                comment=_("Acknowledged by the monitoring tool."),
                system_label=integration.name,
            )
        else:
            services.add_timeline_entry(
                incident,
                actor=None,
                system_label=integration.name,
                text=_("Acknowledged by the monitoring tool."),
            )
        return [incident]
    # resolve
    if alert is not None:
        Alert.objects.filter(pk=alert.pk).update(
            status=AlertStatus.RESOLVED, ends_at=now, resolved_at=now, last_seen_at=now
        )
        alert.status = AlertStatus.RESOLVED
    _close_group(group)
    _timeline_alerts(incident, integration, firing=[], resolved=[alert] if alert else [])
    if not incident.alerts.filter(status=AlertStatus.FIRING).exists():
        _recover(incident, integration, _("Resolved by the monitoring tool."))
    return [incident]


# ---------------------------------------------------------------------------- reads


def recent_deliveries(integration: Integration, limit: int = 50):
    return Delivery.objects.filter(integration=integration).order_by("-received_at", "-id")[:limit]


def open_groups(integration: Integration):
    return (
        AlertGroup.objects.filter(integration=integration, is_open=True)
        .filter(Q(incident__isnull=True) | ~Q(incident__state=IncidentState.CLOSED))
        .select_related("incident")
    )


# ---------------------------------------------------------------------------- storm members


class GroupNotSplittable(workflow.TransitionError):
    """The group cannot be split out (API 409); ``incident`` names the incident it is on."""

    code = "not_splittable"
    status = 409


def member_groups(incident: Incident, *, with_storm: bool = False):
    """The alert groups feeding ``incident`` (a storm incident's members), with their service
    and alert counts, oldest first; ``with_storm``: the storm group row too (one query tells
    the incident page whether it is a storm incident and lists the members)."""
    groups = AlertGroup.objects.filter(incident=incident)
    return (
        (groups if with_storm else groups.filter(is_storm=False))
        .select_related("service", "integration")
        .annotate(
            alert_count=Count("alerts"),
            firing_count=Count("alerts", filter=Q(alerts__status=AlertStatus.FIRING)),
        )
        .order_by("opened_at", "id")
    )


def can_split(user) -> bool:
    """Operators and up (the ops ladder) who may work incidents."""
    return user.has_perm("incidents.change_incident") and ops_rank(user) >= 1


def split_group(group_id: int, *, actor) -> Incident:
    """Split an alert group out of the storm incident it joined into its own incident.

    The new incident gets the group's service and priority from the integration's mapping rules
    (applied to the group's alerts now, as when a group opens its own incident) and its team;
    the group and its alerts move to it; both timelines say so, linked. The storm incident keeps
    its priority (it never lowers). Refused (``GroupNotSplittable``, 409) when the group already
    has its own incident — so a repeated split changes nothing — when it is the storm group
    itself, or when the storm incident or the group's episode has ended.
    """
    if not can_split(actor):
        raise workflow.TransitionForbidden(_("Only an operator or above may split alert groups."))
    with transaction.atomic():
        group = (
            AlertGroup.objects.select_for_update(of=("self",))
            .select_related("incident", "integration")
            .filter(pk=group_id)
            .first()
        )
        if group is None:
            raise AlertGroup.DoesNotExist
        storm = group.incident
        if group.is_storm:
            raise GroupNotSplittable(_("The storm itself is not an alert group to split out."))
        if storm is None or group.opened_incident:
            raise GroupNotSplittable(
                _("This alert group already has its own incident."),
                incident=storm.number if storm else None,
            )
        if not storm.is_open or not group.is_open:
            raise GroupNotSplittable(
                _("Only an open alert group on an open storm incident can be split out."),
                incident=storm.number,
            )
        integration = group.integration
        alerts = list(group.alerts.order_by("first_seen_at", "id"))
        firing = [a for a in alerts if a.status == AlertStatus.FIRING] or alerts
        rules = list(integration.rules.select_related("service"))
        if firing:
            mappings = [_mapping(integration, {**group.labels, **a.labels}, rules) for a in firing]
            inputs = _triage_inputs(integration, mappings)
        else:  # no alert stored (yet): what the group opened with
            inputs = {
                "priority": group.priority or integration.default_priority,
                "service": group.service or integration.service,
            }
        first = firing[0] if firing else None
        name = group.labels.get("alertname") or (first.name if first else group.key)
        title = _title(str(name), first.summary if first else "")
        lines = [
            _("Split out of the alert storm incident %(storm)s.") % {"storm": storm.number},
            "",
            *(f"{k}={v}" for k, v in sorted(group.labels.items())),
        ]
        starts = [a.starts_at or a.first_seen_at for a in alerts]
        incident = services.open_incident(
            title=title,
            description="\n".join(lines),
            source=Source.MONITORING,
            service=inputs["service"],
            impact_scope=inputs.get("impact_scope"),
            business_impact=inputs.get("business_impact"),
            urgency=inputs.get("urgency"),
            priority=inputs.get("priority"),
            actor=actor,
            system_label=integration.name,
            detected_at=min([*starts, group.opened_at]),
            received_at=group.opened_at,
        )
        if integration.team_id:
            services.update_incident(incident, actor=actor, team=integration.team)
        moved = Alert.objects.filter(group=group).update(incident=incident)
        AlertGroup.objects.filter(pk=group.pk).update(
            incident=incident,
            opened_incident=True,
            priority=incident.priority,
            service=incident.service,
        )
        data = {"group": group.pk, "key": group.key, "alerts": moved}
        services.add_timeline_entry(
            incident,
            actor=actor,
            kind=TimelineKind.LINK,
            text=_("Alert group “%(group)s” (%(n)d alerts) split out of the alert storm %(storm)s.")
            % {"group": group.name, "n": moved, "storm": storm.number},
            data={**data, "split_from": storm.number},
        )
        services.add_timeline_entry(
            storm,
            actor=actor,
            kind=TimelineKind.LINK,
            text=_("Alert group “%(group)s” (%(n)d alerts) split out into %(new)s.")
            % {"group": group.name, "n": moved, "new": incident.number},
            data={**data, "split_to": incident.number},
        )
        record_event(
            storm,
            action="split_alert_group",
            actor=actor,
            data={**data, "incident": incident.number},
        )
    return incident
