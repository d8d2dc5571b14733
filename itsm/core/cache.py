"""Cache helpers: a Redis backend that keeps its client, and a windowed counter.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache operation;
with redis-py 7 that constructor (its response-callback table) costs about as much as the round
trip to Redis itself. The client is a thin, thread-safe wrapper over its pool, so one per pool
is enough. Everything else (pools, serializer, options, replicas) is Django's.
"""

from __future__ import annotations

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
