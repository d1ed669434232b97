"""Customer pages against the minimal authenticated page and the bare view (issue 18, goal 2).

Serves the portal with gunicorn (2 workers of 4 threads as the Procfile, production settings,
PostgreSQL, Redis for the cache and the sessions), builds one customer with `--rows` invoices
and tickets, and measures each page's throughput with 4 client threads, the pages taken in turn
in each of 3 rounds. Prints, per page, the median requests per second, their spread, and the
ratio to the minimal authenticated page (customer pages) or to the bare view (the pricing page
for an anonymous visitor). Goal: every ratio at least 0.5. Run:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench_pages' postgres
    .venv/bin/python bench/pages.py \\
        --database-url postgres://postgres@127.0.0.1:5432/portal_bench_pages --rows 20
"""

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack

START = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def customer_with_history(rows: int) -> tuple[str, str]:
    """A customer on Pro monthly with `rows` paid invoices and tickets; (session cookie,
    the latest invoice's number)."""
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    from accounts.models import User
    from subscriptions.models import (
        BillingAccount,
        Invoice,
        InvoiceKind,
        InvoiceLine,
        InvoiceStatus,
        Price,
        Subscription,
        SubscriptionStatus,
    )
    from support.models import Category as TicketCategory
    from support.models import Ticket

    User.objects.filter(email="bench.pages@example.com").delete()
    user = User.objects.create_user(
        email="bench.pages@example.com",
        password="!",  # noqa: S106 - the bench signs in by its session, never by password
        name="Camille Bench",
        language="en",
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    BillingAccount.objects.create(
        user=user,
        stripe_customer_id="cus_bench",
        payment_method_id="pm_bench",
        card_brand="visa",
        card_last4="4242",
        card_exp_month=12,
        card_exp_year=2030,
    )
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    now = datetime.now(UTC)
    sub = Subscription.objects.create(
        user=user,
        plan=price.plan,
        price=price,
        currency="EUR",
        status=SubscriptionStatus.ACTIVE,
        anchor_at=now - timedelta(days=10),
        current_period_start=now - timedelta(days=10),
        current_period_end=now + timedelta(days=20),
        next_billing_at=now + timedelta(days=20),
        first_paid_at=START,
    )
    invoices = Invoice.objects.bulk_create(
        Invoice(
            number=f"{1000 + user.pk % 9000}-{n + 1:06d}",  # a year of its own per run
            user=user,
            subscription=sub,
            price=price,
            kind=InvoiceKind.RENEWAL,
            status=InvoiceStatus.PAID,
            currency="EUR",
            subtotal=4900,
            tax=980,
            total=5880,
            tax_rate_bps=2000,
            period_start=START + timedelta(days=n),
            period_end=START + timedelta(days=n + 30),
            issued_at=START + timedelta(days=n),
            paid_at=START + timedelta(days=n),
            seller={"name": "e-confiance SAS"},
            buyer={"name": user.name, "country": "FR"},
            language="en",
        )
        for n in range(rows)
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            description="Pro, monthly / Pro, mensuel",
            amount=4900,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
        )
        for invoice in invoices
    )
    Ticket.objects.bulk_create(
        Ticket(
            user=user,
            category=TicketCategory.choices[0][0],
            subject=f"Question {n}",
            created_at=START + timedelta(days=n),
            reply_due_at=START + timedelta(days=n + 2),
            last_customer_message_at=START + timedelta(days=n),
        )
        for n in range(rows)
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}", invoices[-1].number


def main() -> None:
    parser = stack.arguments()
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    port = stack.free_port()
    env = stack.prepared(args, port)
    cookie, number = customer_with_history(args.rows)
    customer = {
        "home": "/en/account/",
        "subscription": "/en/account/subscription/",
        "invoices": "/en/account/invoices/",
        "invoice": f"/en/account/invoices/{number}/",
        "refunds": "/en/account/refunds/",
        "tickets": "/en/account/support/",
        "cancel": "/en/account/cancel/",
        "cancel summary": "/en/account/cancel/?step=summary",
    }
    requests = {
        "bare view": stack.get("/bench/bare/"),
        "minimal authenticated": stack.get("/bench/minimal/", cookie),
        "pricing (anonymous)": stack.get("/en/"),
        **{name: stack.get(path, cookie) for name, path in customer.items()},
    }
    with stack.gunicorn(env, port, threads=args.threads) as base:
        runs = stack.interleaved(base, requests, seconds=args.seconds)
    print(f"\ngunicorn, 2 workers of {args.threads} thread(s), production; {args.rows} invoices")
    print("  requests/s: median (spread) of 3 interleaved rounds; ratio run by run")
    bare, minimal = runs["bare view"], runs["minimal authenticated"]
    print(stack.ratio_line("minimal authenticated", minimal, bare) + "  (to the bare view)")
    print(stack.ratio_line("pricing (anonymous)", runs["pricing (anonymous)"], bare))
    for name in customer:
        print(stack.ratio_line(name, runs[name], minimal) + "  (to the minimal page)")
    print(f"\ncommand: .venv/bin/python bench/pages.py --database-url ... --rows {args.rows}")


if __name__ == "__main__":
    main()
