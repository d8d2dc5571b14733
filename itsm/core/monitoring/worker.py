"""Celery's side of self-monitoring: queue depth, queue wait, worker heartbeat.

- Queue wait: ``before_task_publish`` stamps the message with the publish time; when a worker
  starts the task (``task_prerun``) the wait (start − publish, or − ETA for delayed tasks) is
  added to a histogram in the shared store (``store``), which /metrics reads.
- Heartbeat: the beat-scheduled ``core.worker_heartbeat`` task stores the time it ran; a
  heartbeat older than three minutes means no worker is taking tasks (the WorkerDown alert).
- Queue depth: read from the broker at scrape time (Redis ``LLEN``; the embedded filesystem
  broker: message files in its folder).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from celery.signals import before_task_publish, task_prerun
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from .store import worker_store

logger = logging.getLogger(__name__)

PUBLISHED_HEADER = "itsm_published_at"
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# kombu's Redis transport keeps messages with a priority in lists named queue + sep + priority.
REDIS_PRIORITY_SEP = "\x06\x16"
REDIS_PRIORITY_STEPS = (3, 6, 9)


@before_task_publish.connect(dispatch_uid="itsm.monitoring.stamp_publish_time")
def stamp_publish_time(sender=None, headers=None, **kwargs) -> None:
    if headers is not None:
        headers.setdefault(PUBLISHED_HEADER, time.time())


def _published_at(request) -> float | None:
    value = getattr(request, PUBLISHED_HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(PUBLISHED_HEADER)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _due_at(request, published: float) -> float:
    eta = getattr(request, "eta", None)
    if not eta:
        return published
    try:
        due = eta if isinstance(eta, datetime) else datetime.fromisoformat(eta)
    except (TypeError, ValueError):
        return published
    return max(published, due.timestamp())


@task_prerun.connect(dispatch_uid="itsm.monitoring.observe_queue_wait")
def observe_queue_wait(sender=None, task=None, **kwargs) -> None:
    request = getattr(task, "request", None)
    published = _published_at(request) if request is not None else None
    if published is None or getattr(request, "is_eager", False):
        return
    wait = max(0.0, time.time() - _due_at(request, published))
    try:
        worker_store().observe_wait(task.name, wait, WAIT_BUCKETS)
    except Exception:  # monitoring must never stop a task
        logger.warning("could not record the queue wait of %s", task.name, exc_info=True)


def beat_heartbeat() -> float:
    """The ``core.worker_heartbeat`` task's service: a worker took a task now."""
    now = time.time()
    worker_store().set_heartbeat(now)
    return now


def queue_names() -> list[str]:
    names = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            names.add(route["queue"])
    return sorted(names)


def queue_depths() -> dict[str, int]:
    names = queue_names()
    if settings.CELERY_BROKER_URL.startswith("redis"):
        import redis

        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
        )
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
            for step in REDIS_PRIORITY_STEPS:
                pipe.llen(f"{name}{REDIS_PRIORITY_SEP}{step}")
        lengths = pipe.execute()
        width = 1 + len(REDIS_PRIORITY_STEPS)
        return {name: sum(lengths[i * width : (i + 1) * width]) for i, name in enumerate(names)}
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        files = [p.name for p in folder.glob("*.msg")] if folder.is_dir() else []
        return {name: sum(f.endswith(f".{name}.msg") for f in files) for name in names}
    return {}


class BrokerCollector:
    """Queue depth, read from the broker at scrape time."""

    def collect(self):
        depth = GaugeMetricFamily(
            "itsm_celery_queue_length",
            "Messages waiting in the broker queue (not yet taken by a worker).",
            labels=["queue"],
        )
        for name, count in queue_depths().items():
            depth.add_metric([name], count)
        yield depth


class WorkerStoreCollector:
    """The heartbeat and the queue-wait histogram the workers left in the shared store."""

    def collect(self):
        store = worker_store()
        yield GaugeMetricFamily(
            "itsm_worker_heartbeat_timestamp_seconds",
            "When a worker last ran the beat-scheduled heartbeat task (Unix time; 0: never).",
            value=store.heartbeat(),
        )
        wait = HistogramMetricFamily(
            "itsm_celery_task_queue_wait_seconds",
            "Time from publishing a task (or its ETA) until a worker started it.",
            labels=["task"],
        )
        for task, row in store.waits().items():
            buckets = [(repr(b), row.get(repr(b), 0.0)) for b in WAIT_BUCKETS]
            buckets.append(("+Inf", row.get("+Inf", 0.0)))
            wait.add_metric([task], buckets, row.get("sum", 0.0))
        yield wait
