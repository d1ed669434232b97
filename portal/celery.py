import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings
from django_structlog.celery.steps import DjangoStructLogInitStep

from portal import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
broker.register()  # the embedded default's filesystem broker writes its messages whole

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# django-structlog: each task logs one line with the request id of the request that queued it.
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def _logging_from_django(**kwargs: Any) -> None:
    """The worker and beat log like the web processes (JSON in production)."""
    logging.config.dictConfig(settings.LOGGING)
