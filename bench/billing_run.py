"""How the billing run's cost grows: with what is due, not with the number of customers.

Creates N subscriptions of which D are due for renewal (on a scratch SQLite database, with
Stripe calls replaced by an in-process success so only the portal's own work is measured),
then times one billing_run and counts its queries. Run:

    .venv/bin/python bench/billing_run.py            # N = 1,000 and 20,000; D = 50
"""

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_db = Path(tempfile.mkdtemp()) / "bench.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{_db}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402
from subscriptions import catalog  # noqa: E402
from subscriptions.gateways import stripe as gateway  # noqa: E402
from subscriptions.models import (  # noqa: E402
    BillingAccount,
    Plan,
    Price,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.billing import billing_run  # noqa: E402

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DUE = 50


def fake_charge(**kwargs):
    return gateway.PaymentResult(
        payment_intent_id="pi_bench", status="succeeded", charge_id="ch_bench"
    )


def populate(total: int) -> None:
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    users = User.objects.bulk_create(
        User(email=f"bench{i}-{total}@example.com", name=f"Bench {i}") for i in range(total)
    )
    BillingAccount.objects.bulk_create(
        BillingAccount(user=u, stripe_customer_id=f"cus_{u.pk}", payment_method_id="pm_bench")
        for u in users
    )
    subs = []
    for i, user in enumerate(users):
        due = i < DUE
        start = NOW - timedelta(days=31 if due else 10)
        subs.append(
            Subscription(
                user=user,
                plan=price.plan,
                price=price,
                currency="EUR",
                status=SubscriptionStatus.ACTIVE,
                anchor_at=start,
                period_index=0,
                current_period_start=start,
                current_period_end=start + timedelta(days=30),
                next_billing_at=start + timedelta(days=30),
                first_paid_at=start,
                renewal_reminder_sent_for=start + timedelta(days=30),
            )
        )
    Subscription.objects.bulk_create(subs, batch_size=2000)


def measure(total: int) -> tuple[float, int, int]:
    Subscription.objects.all().delete()
    BillingAccount.objects.all().delete()
    User.objects.all().delete()
    populate(total)
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        done = billing_run(now=NOW)
        elapsed = time.perf_counter() - started
    return elapsed, len(queries.captured_queries), done["renewed"]


def main() -> None:
    call_command("migrate", run_syncdb=True, verbosity=0)
    catalog.seed(Plan, Price)
    gateway.payment_charge = fake_charge  # the portal's work only
    print(f"billing_run with {DUE} renewals due (Stripe stubbed), scratch SQLite:")
    for total in (1_000, 20_000):
        elapsed, queries, renewed = measure(total)
        print(
            f"  {total:>6} subscriptions: {elapsed * 1000:7.0f} ms, {queries:5d} queries, "
            f"{renewed} renewed ({elapsed * 1000 / max(renewed, 1):.1f} ms per renewal)"
        )


if __name__ == "__main__":
    main()
