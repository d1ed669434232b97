"""Tests: the suite runs on SQLite by default and on PostgreSQL + Redis when the env says so."""

import os

from portal.logs import logging_config
from portal.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
# Threads (live server, concurrency tests) must not keep connections past a request, or the
# test database cannot be dropped at the end.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
STRIPE_API_BASE = "http://127.0.0.1:1"  # replaced by the localstripe fixture for each session
LOGGING = logging_config(fmt="console", level="WARNING")

# Each xdist worker gets its own Redis database: a test clearing the cache (allauth's rate
# limits live there) must not reset another worker's counters.
if CACHES["default"]["BACKEND"].endswith("RedisCache"):  # noqa: F405
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or "0"
    _location = CACHES["default"]["LOCATION"].rsplit("/", 1)[0]  # noqa: F405
    CACHES["default"]["LOCATION"] = f"{_location}/{1 + int(_worker)}"  # noqa: F405
