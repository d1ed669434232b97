"""The embedded default: SQLite, a real Celery worker and beat on a serverless broker, the
e-mail outbox, localstripe on loopback.

The broker is kombu's ``filesystem://`` transport under ``var/celery/``: it ships with
kombu (no extra dependency), needs no server, and keeps the broker's traffic out of the
SQLite database, whose single write lock the portal's own requests already compete for
(the SQLAlchemy transport on SQLite would poll it for every message). Its control folder
gives the broadcast that ``celery inspect ping`` and the health page's worker ping need.
"""

from portal.settings.base import *  # noqa: F403
from portal.settings.base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
if DEBUG:
    # Templates are read again at each request while developing: rows are rendered afresh.
    CACHES["rows"] = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}  # noqa: F405

# A fresh clone has no var/: create what the embedded default keeps there.
CELERY_DIR = VAR_DIR / "celery"
for _folder in ("queue", "processed", "control"):
    (CELERY_DIR / _folder).mkdir(parents=True, exist_ok=True)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(CELERY_DIR / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(CELERY_DIR / "beat-schedule")
