"""Celery's figures: queue depth from the broker, the queue wait measured by a real worker, the
heartbeat the WorkerDown alert reads."""

from __future__ import annotations

import time

import pytest

from itsm.core.monitoring import store as stores
from itsm.core.monitoring import worker
from itsm.core.monitoring.store import FileStore
from tests.conftest import wait_until

from .helpers import scrape, value


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_records_the_heartbeat_and_how_long_the_task_waited(
    client, celery_app, celery_worker
):
    store = stores.worker_store()
    store.client.delete(stores.PREFIX + stores.HEARTBEAT)
    assert value(scrape(client), "itsm_worker_heartbeat_timestamp_seconds") == 0
    before = time.time()
    celery_app.send_task("core.worker_heartbeat")
    wait_until(lambda: store.heartbeat() > 0, timeout=30)
    samples = scrape(client)
    assert before <= value(samples, "itsm_worker_heartbeat_timestamp_seconds") <= time.time()
    waited = value(
        samples, "itsm_celery_task_queue_wait_seconds_count", task="core.worker_heartbeat"
    )
    assert waited >= 1
    assert (
        value(
            samples,
            "itsm_celery_task_queue_wait_seconds_bucket",
            task="core.worker_heartbeat",
            le="+Inf",
        )
        == waited
    )


@pytest.mark.redis
@pytest.mark.django_db
def test_messages_waiting_in_redis_show_as_queue_length(client, celery_app):
    redis = celery_app.connection_for_write().default_channel.client
    redis.delete("celery")
    assert value(scrape(client), "itsm_celery_queue_length", queue="celery") == 0
    for _ in range(3):
        celery_app.send_task("core.worker_heartbeat")  # no worker runs: they stay queued
    assert value(scrape(client), "itsm_celery_queue_length", queue="celery") == 3
    redis.delete("celery")


def test_the_filesystem_broker_counts_message_files_per_queue(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    settings.CELERY_TASK_ROUTES = {"backups.*": {"queue": "backups"}}
    for name in ("1_a.celery.msg", "2_b.celery.msg", "3_c.backups.msg", "notes.txt"):
        (tmp_path / name).write_text("{}")
    assert worker.queue_depths() == {"backups": 1, "celery": 2}


def test_without_redis_the_worker_figures_go_to_a_file_every_process_reads(tmp_path):
    writer, reader = FileStore(tmp_path), FileStore(tmp_path)
    assert reader.heartbeat() == 0
    writer.set_heartbeat(1_800_000_000.5)
    writer.observe_wait("core.x", 0.3, worker.WAIT_BUCKETS)
    writer.observe_wait("core.x", 42.0, worker.WAIT_BUCKETS)
    assert reader.heartbeat() == 1_800_000_000.5
    row = reader.waits()["core.x"]
    assert row["+Inf"] == 2
    assert row["0.5"] == 1
    assert row["60.0"] == 2
    assert row["sum"] == pytest.approx(42.3)


def test_a_delayed_task_waits_from_its_eta_not_from_its_publication():
    class Request:
        itsm_published_at = 1000.0
        eta = "1970-01-01T00:20:00+00:00"  # 1200.0

    assert worker._due_at(Request(), worker._published_at(Request())) == 1200.0
    Request.eta = None
    assert worker._due_at(Request(), 1000.0) == 1000.0


def test_the_publish_hook_stamps_the_message():
    headers = {}
    before = time.time()
    worker.stamp_publish_time(headers=headers)
    assert before <= headers[worker.PUBLISHED_HEADER] <= time.time()
