"""How the billing run's cost grows: with what is due, not with the number of subscriptions.

On PostgreSQL, builds N subscriptions (one per customer) with `INSERT ... SELECT
generate_series`, none due at NOW; prints EXPLAIN ANALYZE of each select the run issues and
their total; then makes D of them due for renewal, prints the same, and times the run itself
(its tasks queued, not run: the workers' side is bench/renewals_parallel.py). Run:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench' postgres
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench \\
        .venv/bin/python bench/billing_run.py --total 1000000 --due 1000

The database is migrated on the first run and its subscriptions replaced on each.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

import django

django.setup()

from celery import current_app  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402
from subscriptions import catalog  # noqa: E402
from subscriptions.models import Plan, Price, Subscription  # noqa: E402
from subscriptions.services import billing  # noqa: E402

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SERIES = "generate_series(1, %(total)s) AS g(i)"


def insert_select(model, exprs: dict[str, str], source: str, params: dict) -> None:
    """INSERT INTO model's table SELECT ... FROM source: columns from exprs, the others
    from the field's default (Django defaults are not database defaults)."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in exprs:
            values.append(exprs[field.column])
        elif field.has_default() or not field.null:
            name = f"default_{field.column}"
            params[name] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({name})s")
        else:
            values.append("NULL")
    with connection.cursor() as cursor:
        # Built from this bench's constants and the model's own columns.
        sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        sql += f"SELECT {', '.join(values)} FROM {source}"  # noqa: S608
        cursor.execute(sql, params)


def populate(total: int) -> None:
    """80 % active (monthly and yearly, due over their period, reminders inside the window
    already sent), 5 % in trial (warned inside the window), 15 % ended. None due at NOW."""
    month = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    year = Price.objects.get(plan__code="pro", interval="year", currency="EUR")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE subscriptions_subscription CASCADE")
        cursor.execute("DELETE FROM accounts_user WHERE email LIKE 'bench%%'")
    params = {"total": total, "now": NOW, "month": month.pk, "year": year.pk}
    params["plan"] = month.plan_id
    insert_select(
        User,
        {"email": "'bench' || i || '@example.com'", "name": "'Bench ' || i", "password": "'!'"},
        SERIES,
        params,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM accounts_user WHERE email LIKE 'bench%%'")
        params["first"] = cursor.fetchone()[0]
    kind = "i %% 20"  # 0..15 active (even monthly, odd yearly), 16 in trial, 17..19 ended
    hours = "(%(now)s::timestamptz + ((i %% {n}) + 1) * interval '1 hour')"
    due = (
        f"CASE WHEN {kind} < 16 AND i %% 2 = 0 THEN {hours.format(n=720)} "
        f"WHEN {kind} < 16 THEN {hours.format(n=8760)} "
        f"WHEN {kind} = 16 THEN {hours.format(n=360)} END"
    )
    insert_select(
        Subscription,
        {
            "user_id": "%(first)s + i - 1",
            "plan_id": "%(plan)s",
            "price_id": "CASE WHEN i %% 2 = 0 THEN %(month)s ELSE %(year)s END",
            "status": f"CASE WHEN {kind} < 16 THEN 'active' WHEN {kind} = 16 THEN 'trialing' "
            "ELSE 'canceled' END",
            "currency": "'EUR'",
            "created_at": "%(now)s",
            "cancel_reason": "''",
            "next_billing_at": "due",
            "anchor_at": "%(now)s",
            "current_period_start": "%(now)s",
            "current_period_end": "due",
            "trial_ends_at": f"CASE WHEN {kind} = 16 THEN due END",
            "renewal_reminder_sent_for": "due",
            "trial_warning_sent_at": f"CASE WHEN {kind} = 16 THEN %(now)s END",
            "ended_at": f"CASE WHEN {kind} > 16 THEN %(now)s END",
        },
        f"(SELECT i, {due} AS due FROM {SERIES}) AS s",  # noqa: S608 - constants of this bench
        params,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE subscriptions_subscription")


def explain_selects(label: str) -> float:
    total = 0.0
    print(f"\n{label}: EXPLAIN ANALYZE of each select of the run")
    for name, select in billing.billing_selects(now=NOW):
        sql, params = select.query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(billing.SERIAL_PLAN)  # as the run reads them (billing.due_pks)
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = [row[0] for row in cursor.fetchall()]
        ms = float(next(line for line in plan if line.startswith("Execution Time")).split()[2])
        total += ms
        scan = next((line.strip() for line in plan if "Scan" in line), plan[0].strip())
        rows = next((line for line in plan if "actual time" in line), "")
        print(f"  {name:16} {ms:8.3f} ms  {scan[:90]}")
        print(f"  {'':16} {'':11}  {rows.strip()[:110]}")
    print(f"  total of the selects: {total:.3f} ms")
    return total


def run_queued() -> tuple[float, int, int]:
    """One billing_run with its tasks queued to a list (the broker's side is not timed)."""
    task = current_app.tasks[billing.ITEM_TASK]
    queued: list[dict] = []
    task.delay = lambda **kwargs: queued.append(kwargs)
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        billing.billing_run(now=NOW)
        elapsed = time.perf_counter() - started
    return elapsed, len(queries), len(queued)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--keep", action="store_true", help="reuse the subscriptions built")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/billing_run.py needs DATABASE_URL=postgres://... (see its docstring)")
    call_command("migrate", verbosity=0)
    catalog.seed(Plan, Price)
    started = time.perf_counter()
    if not args.keep:
        populate(args.total)
        print(f"{args.total} subscriptions built in {time.perf_counter() - started:.0f} s")
    nothing = explain_selects(f"{args.total} subscriptions, nothing due")
    runs = [run_queued() for _ in range(3)]
    print(
        f"  billing_run: median {statistics.median(r[0] for r in runs) * 1000:.1f} ms "
        f"(spread {min(r[0] for r in runs) * 1000:.1f}-{max(r[0] for r in runs) * 1000:.1f}), "
        f"{runs[0][1]} queries, {runs[0][2]} tasks queued"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE subscriptions_subscription SET next_billing_at = %s - interval '1 hour' "
            "WHERE id IN (SELECT id FROM subscriptions_subscription WHERE status = 'active' "
            "ORDER BY id LIMIT %s)",
            [NOW, args.due],
        )
        cursor.execute("ANALYZE subscriptions_subscription")
    due = explain_selects(f"{args.total} subscriptions, {args.due} renewals due")
    runs = [run_queued() for _ in range(3)]
    print(
        f"  billing_run: median {statistics.median(r[0] for r in runs) * 1000:.1f} ms "
        f"(spread {min(r[0] for r in runs) * 1000:.1f}-{max(r[0] for r in runs) * 1000:.1f}), "
        f"{runs[0][1]} queries, {runs[0][2]} tasks queued"
    )
    print(f"\nselects, nothing due: {nothing:.2f} ms (goal < 20 ms); {args.due} due: {due:.2f} ms")


if __name__ == "__main__":
    main()
