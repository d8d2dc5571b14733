"""Parsing monitoring deliveries (DESIGN.md § Monitoring intake): validate an Alertmanager
webhook (v4, and Grafana's superset of it) or a PagerDuty Events v2 body into plain messages;
``IntakeInvalid`` lists what is wrong (the API answers 400 with it)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import AlertStatus, Delivery, IntegrationKind

MAX_BODY_BYTES = 512 * 1024
MAX_ALERTS_PER_DELIVERY = 5000
KEY_MAX = 255
EVENT_SEVERITIES = ("critical", "error", "warning", "info")
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")


class IntakeInvalid(Exception):
    """The body cannot be accepted; ``errors`` are messages a sender can act on."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


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


def parse_stored(delivery: Delivery):
    """The message of a stored (validated when received) delivery."""
    data = load_json(delivery.body.encode())
    if delivery.format == IntegrationKind.ALERTMANAGER:
        return parse_alertmanager(data)
    return parse_event(data)
