"""Cache helpers: a Redis backend that keeps its client, a windowed counter, and the shared
versions of what each process keeps in memory (``shared_version`` / ``bump_version``).

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache operation;
with redis-py 7 that constructor (its response-callback table) costs about as much as the round
trip to Redis itself. The client is a thin, thread-safe wrapper over its pool, so one per pool
is enough. Everything else (pools, serializer, options, replicas) is Django's.
"""

from __future__ import annotations

import uuid

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}  # id(pool) → client; pools live as long as this object

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    @cached_property
    def _cache(self):
        return ReusingRedisCacheClient(self._servers, **self._options)


def count_hit(key: str, window: int, hits: int = 1) -> int:
    """Count ``hits`` on ``key``, a counter that expires ``window`` seconds after its first hit;
    returns the count so far (the intake rate limits).

    On Redis one round trip: ``SET key 0 EX window NX`` and ``INCRBY key hits``, pipelined
    (Django's ``add`` + ``incr`` take three). Elsewhere ``add`` + ``incr``, starting again when
    the entry was evicted in between."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        redis_key = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(redis_key, write=True).pipeline(transaction=False)
        pipe.set(redis_key, 0, ex=window, nx=True)
        pipe.incrby(redis_key, hits)
        return pipe.execute()[1]
    backend.add(key, 0, window)
    try:
        return backend.incr(key, hits)
    except ValueError:
        backend.set(key, hits, window)
        return hits


def _token() -> str:
    return uuid.uuid4().hex


def shared_version(key: str) -> str:
    """The current version of something every process keeps in memory (the business calendar,
    the incident configuration): a process rebuilds its copy when this differs from the one it
    built it at."""
    return caches["default"].get_or_set(key, _token, None)


def bump_version(key: str) -> None:
    """Every process rebuilds its copy on its next read. A fresh random token, not a counter:
    a counter that expired (the file cache's ``incr`` resets the timeout) and started again
    could come back to the number a stale process holds."""
    caches["default"].set(key, _token(), None)
