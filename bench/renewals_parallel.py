"""The billing run over Celery workers (issue 18, goal 4): `--due` renewals due at once, done
by `--workers` worker processes on Redis.

Builds the due subscriptions on PostgreSQL (customers, cards, Pro monthly, all due at NOW)
with `INSERT ... SELECT`, starts the workers (each one process, `--pool solo`, production
settings), runs the billing run once (it only finds what is due and queues one task per
renewal) and waits until every renewal invoice is paid. Stripe's charge is stubbed in the
workers (a success at once), or, with `--localstripe`, sent to localstripe on 127.0.0.1 for
real, each customer with its own card there. The receipts the renewals queue (each renders
its Factur-X PDF) wait behind the renewals in the same queue and are not timed; they are
dropped at the end. Prints the time from the run to the last renewal paid, renewals per
second, and whether it fits the 5-minute window, for each of `--rounds` rounds. Run:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench_renewals' postgres
    .venv/bin/python bench/renewals_parallel.py \\
        --database-url postgres://postgres@127.0.0.1:5432/portal_bench_renewals --due 10000
    .venv/bin/python bench/renewals_parallel.py \\
        --database-url postgres://postgres@127.0.0.1:5432/portal_bench_renewals --due 1000 \\
        --localstripe

Queries per renewal (at most 10) are asserted in tests/subscriptions/test_billing_scale.py.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ANCHOR = datetime(2026, 10, 22, 11, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)  # one month after ANCHOR: due an hour ago
SERIES = "generate_series(1, %(due)s) AS g(i)"


def worker(stub: bool) -> None:
    """One worker process (`--worker`): the portal's tasks, Stripe's charge stubbed or not."""
    from celery import current_app

    if stub:
        from subscriptions.gateways import stripe as gateway

        def charge(**kwargs: object) -> gateway.PaymentResult:
            n = kwargs["idempotency_key"]
            return gateway.PaymentResult(
                payment_intent_id=f"pi_{n}", status="succeeded", charge_id=f"ch_{n}"
            )

        gateway.payment_charge = charge
    current_app.worker_main(
        [
            *("worker", "--pool", "solo", "--loglevel", "WARNING"),
            *("--without-mingle", "--without-gossip", "--without-heartbeat"),
        ]
    )


def populate(due: int, localstripe: bool) -> None:
    """`due` customers with a card, each on Pro monthly, due for renewal at NOW."""
    from billing_run import insert_select  # the bench next door builds rows the same way
    from django.db import connection

    from accounts.models import User
    from subscriptions.models import BillingAccount, Price, Subscription

    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscriptions_subscription, subscriptions_invoice, "
            "subscriptions_billingaccount CASCADE"
        )
        cursor.execute("DELETE FROM accounts_user WHERE email LIKE 'renewal%%'")
    params: dict[str, object] = {"due": due, "price": price.pk, "plan": price.plan_id}
    params.update(anchor=ANCHOR, end=DUE)
    insert_select(
        User,
        {"email": "'renewal' || i || '@example.com'", "name": "'Renewal ' || i", "password": "'!'"},
        SERIES,
        params,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM accounts_user WHERE email LIKE 'renewal%%'")
        params["first"] = cursor.fetchone()[0]
    user = "%(first)s + i - 1"
    insert_select(
        BillingAccount,
        {
            "user_id": user,
            "stripe_customer_id": "'cus_renewal' || i",
            "payment_method_id": "'pm_card_visa'",
            "card_brand": "'visa'",
            "card_last4": "'4242'",
        },
        SERIES,
        params,
    )
    insert_select(
        Subscription,
        {
            "user_id": user,
            "plan_id": "%(plan)s",
            "price_id": "%(price)s",
            "status": "'active'",
            "currency": "'EUR'",
            "created_at": "%(anchor)s",
            "cancel_reason": "''",
            "anchor_at": "%(anchor)s",
            "current_period_start": "%(anchor)s",
            "current_period_end": "%(end)s",
            "next_billing_at": "%(end)s",
            "first_paid_at": "%(anchor)s",
            "renewal_reminder_sent_for": "%(end)s",
        },
        SERIES,
        params,
    )
    if localstripe:
        import stripe

        for account in BillingAccount.objects.filter(user__email__startswith="renewal"):
            customer = stripe.Customer.create(email=f"{account.stripe_customer_id}@example.com")
            card = stripe.PaymentMethod.create(
                type="card",
                card={
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "cvc": "123",
                },
            )
            stripe.PaymentMethod.attach(card.id, customer=customer.id)
            account.stripe_customer_id, account.payment_method_id = customer.id, card.id
            account.save(update_fields=["stripe_customer_id", "payment_method_id"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE subscriptions_subscription")


def one_round(args: argparse.Namespace, env: dict[str, str]) -> float:
    from django.core.cache import cache

    from subscriptions.models import Invoice, InvoiceKind, InvoiceStatus
    from subscriptions.services import billing

    populate(args.due, args.localstripe)
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True)
    cache.clear()
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", *(["--localstripe"] * args.localstripe)],
            env=env,
            cwd=stack.ROOT,
            start_new_session=True,
        )
        for _ in range(args.workers)
    ]
    try:
        time.sleep(5)  # the workers connect to the broker
        started = time.monotonic()
        queued = billing.billing_run(now=NOW)["renewed"]
        renewals = Invoice.objects.filter(kind=InvoiceKind.RENEWAL, status=InvoiceStatus.PAID)
        paid = 0
        while paid < args.due and time.monotonic() - started < args.timeout:
            time.sleep(1)
            paid = renewals.count()
        elapsed = time.monotonic() - started
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(timeout=60)
        subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True)
    print(
        f"  {queued} renewals queued, {paid} paid in {elapsed:.1f} s "
        f"({paid / elapsed:.0f}/s) by {args.workers} workers"
        f"{'' if paid == args.due else ' (timed out)'}",
        flush=True,
    )
    return elapsed if paid == args.due else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--localstripe", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        stack.django_setup({})  # the environment the parent set
        worker(stub=not args.localstripe)
        return
    env = stack.production_env(args.database_url, args.redis, 0)
    env["LOG_LEVEL"] = "ERROR"
    stripe_process = None
    if args.localstripe:
        port = stack.free_port()
        env["STRIPE_API_BASE"] = f"http://{stack.HOST}:{port}"
        stripe_process = subprocess.Popen(
            [
                *(sys.executable, "-m", "devtools.localstripe_server"),
                *("--port", str(port), "--quiet", "--from-scratch"),
            ],
            cwd=stack.ROOT,
            env=env,
            start_new_session=True,
        )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=stack.ROOT,
        env=env,
        check=True,
    )
    stack.django_setup(env)
    if stripe_process is not None:
        import stripe

        deadline = time.monotonic() + 30
        while True:
            try:
                stripe.Customer.list(limit=1)
                break
            except stripe.StripeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    try:
        mode = "localstripe" if args.localstripe else "Stripe stubbed"
        print(f"\n{args.due} renewals due at once, {args.workers} Celery workers on Redis, {mode}")
        times = [one_round(args, env) for _ in range(args.rounds)]
    finally:
        if stripe_process is not None:
            stripe_process.terminate()
            stripe_process.wait(timeout=30)
    median = statistics.median(times)
    print(
        f"  median {median:.1f} s (spread {min(times):.1f}-{max(times):.1f}) over {len(times)} "
        f"round(s): {'within' if median <= 300 else 'beyond'} one 5-minute window"
    )
    print(json.dumps({"due": args.due, "workers": args.workers, "seconds": times}))


if __name__ == "__main__":
    main()
