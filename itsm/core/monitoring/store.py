"""Where workers leave figures for the web's /metrics: Redis when REDIS_URL is set, else files.

Workers serve no HTTP, and web and workers run in separate containers in production
(docker-compose.yml), so the prometheus_client multiprocess directory (one host only) cannot
carry them. Redis is already shared by all of them (the broker); the embedded setup without
Redis runs everything on one machine, where a small file under var/monitoring/ does.

Two figures: the worker heartbeat (a timestamp) and the queue-wait histogram (cumulative
bucket counters per task name, kept as a Redis hash or a JSON file).
"""

from __future__ import annotations

import fcntl
import json
from functools import cache
from pathlib import Path

from django.conf import settings

PREFIX = "itsm:monitoring:"
HEARTBEAT = "worker_heartbeat"
WAIT_TASKS = "task_wait:tasks"


def _wait_key(task: str) -> str:
    return f"task_wait:{task}"


class RedisStore:
    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def set_heartbeat(self, at: float) -> None:
        self.client.set(PREFIX + HEARTBEAT, repr(at))

    def heartbeat(self) -> float:
        value = self.client.get(PREFIX + HEARTBEAT)
        return float(value) if value else 0.0

    def observe_wait(self, task: str, seconds: float, buckets: tuple[float, ...]) -> None:
        key = PREFIX + _wait_key(task)
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(PREFIX + WAIT_TASKS, task)
        for bound in buckets:
            if seconds <= bound:
                pipe.hincrby(key, repr(bound), 1)
        pipe.hincrby(key, "+Inf", 1)
        pipe.hincrbyfloat(key, "sum", seconds)
        pipe.execute()

    def waits(self) -> dict[str, dict[str, float]]:
        tasks = sorted(t.decode() for t in self.client.smembers(PREFIX + WAIT_TASKS))
        pipe = self.client.pipeline(transaction=False)
        for task in tasks:
            pipe.hgetall(PREFIX + _wait_key(task))
        return {
            task: {k.decode(): float(v) for k, v in row.items()}
            for task, row in zip(tasks, pipe.execute(), strict=True)
        }


class FileStore:
    def __init__(self, folder: Path):
        self.path = folder / "worker-metrics.json"

    def _update(self, change) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # several worker processes write
            f.seek(0)
            data = json.loads(f.read() or "{}")
            change(data)
            f.seek(0)
            f.truncate()
            f.write(json.dumps(data))

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except FileNotFoundError:
            return {}

    def set_heartbeat(self, at: float) -> None:
        self._update(lambda data: data.update({HEARTBEAT: at}))

    def heartbeat(self) -> float:
        return float(self._read().get(HEARTBEAT, 0.0))

    def observe_wait(self, task: str, seconds: float, buckets: tuple[float, ...]) -> None:
        def change(data):
            row = data.setdefault("waits", {}).setdefault(task, {})
            for bound in buckets:
                if seconds <= bound:
                    row[repr(bound)] = row.get(repr(bound), 0) + 1
            row["+Inf"] = row.get("+Inf", 0) + 1
            row["sum"] = row.get("sum", 0.0) + seconds

        self._update(change)

    def waits(self) -> dict[str, dict[str, float]]:
        return self._read().get("waits", {})


@cache
def _store(redis_url: str, var_dir: str) -> RedisStore | FileStore:
    # One per process: a Redis client keeps its connection pool (safe across fork: redis-py
    # opens new connections in a child), so a task does not open a connection to record.
    if redis_url:
        return RedisStore(redis_url)
    return FileStore(Path(var_dir) / "monitoring")


def worker_store() -> RedisStore | FileStore:
    return _store(settings.REDIS_URL, str(settings.VAR_DIR))
