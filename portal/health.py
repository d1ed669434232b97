"""``/health/``: the database, the cache, the Celery broker, a worker's ping, the migrations.

django-health-check runs the checks; this module adds the two it lacks (broker, migrations),
answers 503 (not 500) when something is down, and names each check in the reader's language.
JSON for machines (``Accept: application/json`` or ``?format=json``), HTML for people. No
login, and nothing secret: a check reports its name and "OK" or a short cause, never a URL.
"""

import asyncio
import dataclasses
import datetime
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import celery
from celery import current_app
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis, RabbitMQ, or the embedded folder)."""

    def run(self) -> None:
        try:
            with current_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:  # kombu raises the transport's own errors
            raise ServiceUnavailable("Broker unreachable") from exc


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration the code ships is applied to the database."""

    def run(self) -> None:
        try:
            executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:
            raise ServiceUnavailable("Migrations unreadable") from exc
        if plan:
            raise ServiceUnavailable(f"{len(plan)} migrations not applied")


@dataclasses.dataclass
class Workers(Ping):
    """At least one Celery worker answers a ping and consumes the default queue."""

    app: celery.Celery = dataclasses.field(default_factory=lambda: current_app, repr=False)
    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=3), repr=False
    )
    limit: int | None = dataclasses.field(default=1, repr=False)  # the first pong is enough


LABELS = {
    "Database": _("Database"),
    "Cache": _("Cache"),
    "Broker": _("Task broker"),
    "Workers": _("Task workers"),
    "Migrations": _("Migrations"),
}


def checks() -> list[Any]:
    found: list[Any] = [Database, Cache, Broker, Migrations]
    # Eager Celery (the test suite) runs tasks in the request: there is no worker to ping.
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        found.append(Workers)
    return found


@method_decorator(login_not_required, name="dispatch")
class PortalHealthView(HealthCheckView):
    """A synchronous view: the library's async one fails when the calling thread already runs
    an event loop; here the checks run on a loop of their own, in a thread of their own."""

    template_name = "health/index.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = View.dispatch(self, request, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        add_never_cache_headers(response)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with ThreadPoolExecutor(max_workers=1) as thread:
            self.results = thread.submit(asyncio.run, self._results()).result()
        # Something down is "unavailable" (503), not a crash (the library's 500).
        status = 503 if any(result.error for result in self.results) else 200
        accept = request.headers.get("accept", "")
        if request.GET.get("format") == "json" or (
            "application/json" in accept and "text/html" not in accept
        ):
            return self.render_to_response_json(status)
        if request.GET.get("format") == "text" or accept.startswith("text/plain"):
            return self.render_to_response_text(status)
        return self.render_to_response(self.get_context_data(**kwargs), status=status)

    async def _results(self) -> list[Any]:
        return list(await asyncio.gather(*(check.get_result() for check in self.get_checks())))

    def get_checks(self) -> Any:
        self.checks = checks()
        return super().get_checks()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = [
            {
                "label": LABELS.get(type(result.check).__name__, type(result.check).__name__),
                "ok": result.error is None,
                "detail": "" if result.error is None else str(result.error),
                "ms": round(result.time_taken * 1000),
            }
            for result in self.results
        ]
        return context


health = PortalHealthView.as_view()
