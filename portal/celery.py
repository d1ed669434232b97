import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections
from django_structlog.celery.steps import DjangoStructLogInitStep

from portal import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
broker.register()  # the embedded default's filesystem broker writes its messages whole

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's Django fixup closes the database connection before and after every task unless
# this is set: each renewal opened a new PostgreSQL connection, which cost more than the
# renewal (issue 18). It now closes them every 1,000 tasks, and between, a task keeps its
# connection as a request does (below).
app.conf.CELERY_DB_REUSE_MAX = 1000
# django-structlog: each task logs one line with the request id of the request that queued it.
app.steps["worker"].add(DjangoStructLogInitStep)


@task_prerun.connect
@task_postrun.connect
def _connections_as_for_a_request(task: Any = None, **kwargs: Any) -> None:
    """At each task's start and end in a worker, what Django does at each request's: a
    connection that is broken or older than CONN_MAX_AGE is closed (at once with the
    embedded default's SQLite, whose CONN_MAX_AGE is 0), and a kept one is checked before
    its next use. An eager task runs inside its caller's transaction: nothing is closed."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@setup_logging.connect
def _logging_from_django(**kwargs: Any) -> None:
    """The worker and beat log like the web processes (JSON in production)."""
    logging.config.dictConfig(settings.LOGGING)
