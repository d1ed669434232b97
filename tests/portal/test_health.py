"""/health/: database, cache, broker, migrations (and a worker's ping outside eager mode)."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import OperationalError

from portal import health

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = {"Database", "Cache", "Broker", "Migrations"}


def test_health_answers_json_to_machines_without_login(client):
    response = client.get("/health/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    body = response.json()
    assert {key.split("(")[0] for key in body} == CHECKS
    assert set(body.values()) == {"OK"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_answers_when_the_calling_thread_runs_an_event_loop(client):
    """Playwright's sync API (and other libraries) leave a loop running in the thread."""

    async def inside_a_loop():
        return client.get("/health/", HTTP_ACCEPT="application/json")

    with ThreadPoolExecutor(max_workers=1) as thread:  # a thread whose loop is ours alone
        response = thread.submit(asyncio.run, inside_a_loop()).result()
    assert response.status_code == 200


def test_health_reads_as_a_page_for_people_in_their_language(client):
    response = client.get("/health/", HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="fr")

    page = response.content.decode()
    assert response.status_code == 200
    assert "État du service" in page
    assert "Base de données" in page
    assert "Fonctionne" in page


def test_health_reveals_no_secret(client, settings):
    settings.DATABASES["default"]["PASSWORD"] = "db-password-never-shown"
    for accept in ("application/json", "text/html", "text/plain"):
        body = client.get("/health/", HTTP_ACCEPT=accept).content.decode()
        for secret in (
            settings.SECRET_KEY,
            settings.STRIPE_SECRET_KEY,
            "db-password-never-shown",
            str(settings.DATABASES["default"]["NAME"]),
        ):
            assert secret not in body


def test_health_pings_a_worker_when_tasks_are_not_eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert health.Workers not in health.checks()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert health.Workers in health.checks()


def test_health_answers_503_when_the_cache_server_is_down(client, settings):
    settings.DEBUG = False
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    response = client.get("/health/?format=json")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["Cache(alias='default')"] != "OK"
    assert body["Database(alias='default')"] == "OK"


def test_health_answers_503_when_the_database_is_down(client, settings, monkeypatch):
    settings.DEBUG = False

    def refused(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refused)
    response = client.get("/health/?format=json")

    assert response.status_code == 503
    assert json.loads(response.content)["Database(alias='default')"] != "OK"
