"""The portal's settings plus a tiny state machine app used to test the shared mechanism."""

from itsm.settings import *  # noqa: F403
from itsm.settings import INSTALLED_APPS, REDIS_URL

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
ROOT_URLCONF = "tests.testapp.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests only
# Each test asserts the deliveries of the events it causes; the burst merging that would delay
# the second of them is tested on its own (tests/core/test_notification_rules.py turns it on).
NOTIFICATION_BURST_SECONDS = 0

if not REDIS_URL:
    # One test process: memory is enough, and no state outlives the run (the embedded
    # default's cache on disk would).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
