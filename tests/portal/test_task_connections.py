"""A Celery worker keeps its database connection from task to task, as a web process keeps
it from request to request (issue 18: each renewal had opened a new PostgreSQL connection,
which cost more than the renewal)."""

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from portal.celery import app

TASK = "subscriptions.tasks.billing_item"
# The suite's SQLite database lives in memory, and Django never closes it (it would be lost).
on_a_server = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the in-memory SQLite test database is never closed; CI runs these on PostgreSQL",
)


def _between_tasks(task, fixup):
    """What a worker does after one task and before the next."""
    for signal, fixup_step in (
        (task_postrun, fixup.on_task_postrun),
        (task_prerun, fixup.on_task_prerun),
    ):
        fixup_step(sender=task)
        signal.send(sender=task, task=task, task_id="t", args=(), kwargs={})


@on_a_server
@pytest.mark.django_db(transaction=True)
def test_the_connection_outlives_a_task_until_conn_max_age(monkeypatch):
    task = app.tasks[TASK]
    fixup = DjangoWorkerFixup(app)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.ensure_connection()  # kept 60 s from now
    kept = connection.connection
    task.push_request(is_eager=False)
    try:
        _between_tasks(task, fixup)
        connection.ensure_connection()
        assert connection.connection is kept

        monkeypatch.setattr(connection, "close_at", 0)  # older than CONN_MAX_AGE
        _between_tasks(task, fixup)
        assert connection.connection is None  # closed: the next task opens a new one
    finally:
        task.pop_request()


@on_a_server
@pytest.mark.django_db(transaction=True)
def test_with_conn_max_age_0_each_task_has_its_own_connection():
    """The tests' CONN_MAX_AGE of 0, as the embedded default's SQLite: closed after each task."""
    task = app.tasks[TASK]
    connection.ensure_connection()
    task.push_request(is_eager=False)
    try:
        _between_tasks(task, DjangoWorkerFixup(app))
    finally:
        task.pop_request()
    assert connection.connection is None


def test_an_eager_task_leaves_its_callers_transaction_open(db):
    task = app.tasks[TASK]
    connection.ensure_connection()
    task.push_request(is_eager=True)
    try:
        task_postrun.send(sender=task, task=task, task_id="t", args=(), kwargs={})
    finally:
        task.pop_request()
    assert connection.connection is not None
    assert connection.in_atomic_block
