"""The services the settings point at answer: SQLite by default, PostgreSQL + Redis in CI."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from portal.celery import app as celery_app


def test_celery_runs_tasks_eagerly_or_reaches_its_broker():
    broker = settings.CELERY_BROKER_URL
    if broker == "memory://":
        assert celery_app.conf.task_always_eager
    else:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            assert conn.connected


def test_cache_round_trip():
    cache.set("infrastructure-probe", 42, timeout=5)
    assert cache.get("infrastructure-probe") == 42


@pytest.mark.django_db
def test_sqlite_uses_wal_and_immediate_transactions():
    if connection.vendor != "sqlite":
        pytest.skip(f"database is {connection.vendor}; the SQLite options do not apply")
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert settings.DATABASES["default"]["OPTIONS"]["timeout"] >= 5
