"""The embedded default: SQLite, eager Celery, the e-mail outbox, localstripe on loopback."""

from portal.settings.base import *  # noqa: F403
from portal.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
