"""The embedded default runs the schedule: beat fires, a real worker (not eager) does the work.

The worker and beat run in this process's threads, on the same serverless broker as `make
run` (kombu's filesystem transport, in a temporary folder), against the test database.
"""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.beat import Service
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext
from kombu import pools

from portal.celery import app
from subscriptions.models import AuditEvent
from subscriptions.services import trials

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_the_billing_run_is_on_the_schedule_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["billing-run"]
    assert entry["task"] == "subscriptions.tasks.billing_run"
    assert entry["schedule"] == 300.0
    app.loader.import_default_modules()  # what a worker does at start
    assert entry["task"] in app.tasks


def test_make_run_starts_a_worker_with_beat_on_a_serverless_broker():
    from devtools import run

    assert run.WORKER_ARGS[:5] == ["-m", "celery", "-A", "portal", "worker"]
    assert "--beat" in run.WORKER_ARGS
    # The embedded default as make run loads it: no broker, database or cache from the env.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "DATABASE_", "CACHE_", "DJANGO_SETTINGS"))
    }
    code = (
        "from portal.settings import local as s; "
        "print(s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, "
        "all((s.CELERY_DIR / f).is_dir() for f in ('queue', 'processed', 'control')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["filesystem://", "False", "True"]


@pytest.fixture
def filesystem_broker(tmp_path):
    """The app as `make run` configures it: tasks go through the broker, never eagerly."""
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    saved = {
        key: app.conf[key]
        for key in (
            "broker_url",
            "broker_transport_options",
            "task_always_eager",
            "beat_schedule",
        )
    }
    app.conf.update(
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "store_processed": False,
            "control_folder": str(folders["control"]),
        },
        task_always_eager=False,
        # The same entry as in settings, fired every second instead of every 5 minutes.
        beat_schedule={
            "billing-run": {**settings.CELERY_BEAT_SCHEDULE["billing-run"], "schedule": 1.0}
        },
    )
    _reconnect()
    try:
        yield tmp_path
    finally:
        app.conf.update(saved)
        _reconnect()


def _reconnect():
    """New connection and producer pools, on the broker configured now (an earlier test of
    this process may have published on the in-memory one)."""
    app.close()
    app.amqp._producer_pool = None
    pools.reset()


def test_beat_fires_the_billing_run_and_the_worker_sends_the_trial_warning(
    filesystem_broker, customer, catalog, mailoutbox, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # A trial that ends in 3 days less a minute: its warning is due now (001).
    started = timezone.now() - timedelta(days=12, minutes=-1) - timedelta(minutes=2)
    trials.trial_start(user=customer, plan=catalog["pro"], now=started)
    assert not mailoutbox  # not eager: the welcome waits in the broker for the worker

    beat = Service(app, schedule_filename=str(filesystem_broker / "beat-schedule"))
    beat_thread = threading.Thread(target=beat.start, daemon=True)
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False):
        beat_thread.start()
        deadline = time.monotonic() + 60  # the run queues the item: one more hop
        while time.monotonic() < deadline and len(mailoutbox) < 2:
            time.sleep(0.2)
        beat.stop()
    beat_thread.join(timeout=5)

    assert AuditEvent.objects.filter(user=customer, kind="trial_warning_sent").count() == 1
    # The welcome, then the warning: both sent by the worker, the second because beat fired.
    assert [m.to for m in mailoutbox] == [[customer.email], [customer.email]]
    with translation.override(customer.language):
        ending = gettext("Your free trial ends on %(date)s") % {"date": ""}
    assert mailoutbox[1].subject.startswith(ending.strip())


def test_a_message_is_in_the_queue_folder_only_once_written_whole(filesystem_broker, monkeypatch):
    """kombu writes a message file in place, so a worker could read it empty and stop
    (JSONDecodeError): the embedded broker renames it into the folder once written."""
    from portal import broker

    folder = filesystem_broker / "queue"
    seen_at_rename = []
    rename = os.replace

    def replace(src, dst):
        listed = [name for name in os.listdir(folder) if name.endswith(".celery.msg")]
        seen_at_rename.append((listed, Path(src).read_bytes()))
        rename(src, dst)

    monkeypatch.setattr(broker.os, "replace", replace)
    # By name: Celery lets CELERY_BROKER_URL (CI's Redis) override the app's broker setting.
    with app.connection_for_write("filesystem://") as connection:
        assert isinstance(connection.transport, broker.Transport)
        channel = connection.default_channel
        channel._put("celery", {"body": "x" * 100_000})
        ((listed, written),) = seen_at_rename
        assert listed == []  # nothing a worker could read before the rename
        assert len(written) > 100_000
        assert channel._get("celery") == {"body": "x" * 100_000}
