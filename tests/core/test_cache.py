"""The cache helpers: the Redis backend keeps one client, the windowed counter counts."""

import uuid

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from itsm.core.cache import count_hit

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def redis_caches():
    return {"default": {"BACKEND": "itsm.core.cache.RedisCache", "LOCATION": settings.REDIS_URL}}


def test_counts_hits_in_the_local_memory_cache():
    key = f"hits-{uuid.uuid4()}"
    with override_settings(CACHES=LOCMEM):
        assert [count_hit(key, 60) for _ in range(3)] == [1, 2, 3]
        caches["default"].delete(key)  # evicted: the window starts again
        assert count_hit(key, 60) == 1


@pytest.mark.redis
def test_counts_hits_on_redis_in_a_window_django_can_read():
    key = f"hits-{uuid.uuid4()}"
    with override_settings(CACHES=redis_caches()):
        backend = caches["default"]
        assert [count_hit(key, 60) for _ in range(3)] == [1, 2, 3]
        assert backend.get(key) == 3
        client = backend._cache.get_client(write=True)
        assert 0 < client.ttl(backend.make_and_validate_key(key)) <= 60  # set by the first hit
        assert backend._cache.get_client() is client  # one client, not one per operation
        backend.delete(key)
