"""The billing run at scale (issue 18): it only finds what is due and queues one task per
item; a renewal costs a bounded number of queries; an item queued by one run is not queued
again by an overlapping one, and a second delivery of a task bills nothing twice."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    BillingAccount,
    Invoice,
    InvoiceSequence,
    InvoiceStatus,
    PaymentAttempt,
    Price,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services import billing
from subscriptions.services.invoices import invoice_amounts
from tests.factories import UserFactory

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# Issue 18: at most 10 (it was 28). One transaction reads the locked subscription with its
# price, plan, customer and card in one query, moves it into the new period, numbers and
# issues the invoice and opens the attempt; after Stripe, the attempt and the invoice are
# marked paid and the payment written to the timeline.
MAX_QUERIES_PER_RENEWAL = 10


@pytest.fixture
def stub_charges(monkeypatch):
    charged = []

    def charge(**kwargs):
        charged.append(kwargs)
        return gateway.PaymentResult(
            payment_intent_id=f"pi_{len(charged)}",
            status="succeeded",
            charge_id=f"ch_{len(charged)}",
        )

    monkeypatch.setattr(gateway, "payment_charge", charge)
    return charged


def _due(catalog, *, count=1, due=True):
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
    subs = []
    for _ in range(count):
        user = UserFactory()
        BillingAccount.objects.create(
            user=user, stripe_customer_id=f"cus_{user.pk}", payment_method_id="pm_card_visa"
        )
        start = NOW - timedelta(days=31 if due else 10)
        subs.append(
            Subscription.objects.create(
                user=user,
                plan=price.plan,
                price=price,
                currency="EUR",
                status=SubscriptionStatus.ACTIVE,
                anchor_at=start,
                current_period_start=start,
                current_period_end=start + timedelta(days=30),
                next_billing_at=start + timedelta(days=30),
                first_paid_at=start,
                renewal_reminder_sent_for=start + timedelta(days=30),
            )
        )
    return subs


@pytest.mark.django_db
def test_a_renewal_costs_a_bounded_number_of_queries(catalog, stub_charges):
    (sub,) = _due(catalog)
    InvoiceSequence.objects.create(year=NOW.year, last_number=41)  # not the year's first
    with CaptureQueriesContext(connection) as captured:
        outcome = billing.billing_item(step="renewed", pk=sub.pk, now=NOW)
    assert outcome == "done"
    # Savepoints are the test's transaction: in production each atomic block is BEGIN/COMMIT.
    queries = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(queries) <= MAX_QUERIES_PER_RENEWAL, "\n".join(q[:160] for q in queries)
    invoice = Invoice.objects.get(subscription=sub)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.number == "2026-000042"
    assert invoice.total == invoice_amounts(sub.price, sub.user)[2]
    sub.refresh_from_db()
    assert sub.period_index == 1
    assert sub.next_billing_at == sub.current_period_end
    assert len(stub_charges) == 1


@pytest.mark.django_db
def test_a_renewal_that_starts_a_scheduled_downgrade_costs_the_same(catalog, stub_charges):
    (sub,) = _due(catalog)
    higher = Price.objects.get(plan=catalog["premium"], interval="month", currency="EUR")
    lower = sub.price  # Premium now, Pro from this renewal on (004)
    Subscription.objects.filter(pk=sub.pk).update(
        price=higher, plan=higher.plan, scheduled_price=lower
    )
    with CaptureQueriesContext(connection) as captured:
        assert billing.billing_item(step="renewed", pk=sub.pk, now=NOW) == "done"
    queries = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(queries) <= MAX_QUERIES_PER_RENEWAL, "\n".join(q[:160] for q in queries)
    sub.refresh_from_db()
    assert (sub.price, sub.scheduled_price) == (lower, None)
    assert Invoice.objects.get(subscription=sub).total == invoice_amounts(lower, sub.user)[2]
    assert [e.kind for e in sub.events.order_by("pk")] == [
        "plan_changed",
        "invoice_issued",
        "payment_succeeded",
    ]


@pytest.mark.django_db
def test_a_declined_renewal_bills_nothing_next_until_paid(catalog, monkeypatch):
    (sub,) = _due(catalog)
    monkeypatch.setattr(
        gateway,
        "payment_charge",
        lambda **kwargs: gateway.PaymentResult(
            payment_intent_id="pi_1",
            status="failed",
            failure_code="card_declined",
            failure_message="Your card was declined.",
        ),
    )
    assert billing.billing_item(step="renewed", pk=sub.pk, now=NOW) == "done"
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.PAST_DUE
    assert sub.next_billing_at is None  # the open invoice is retried; no new period is billed
    invoice = Invoice.objects.get(subscription=sub)
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.next_retry_at == NOW + timedelta(days=1)  # 004: retried on day 1


@pytest.mark.django_db
def test_the_run_queues_one_task_per_due_item_and_nothing_else(catalog, monkeypatch, settings):
    due = _due(catalog, count=3)
    _due(catalog, count=2, due=False)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    queued = []
    task = billing.current_app.tasks[billing.ITEM_TASK]
    monkeypatch.setattr(task, "delay", lambda **kwargs: queued.append(kwargs))
    done = billing.billing_run(now=NOW)
    assert done["renewed"] == 3
    assert sorted(q["pk"] for q in queued if q["step"] == "renewed") == sorted(s.pk for s in due)
    assert {q["now"] for q in queued} == {NOW.isoformat()}
    # An overlapping run while those tasks wait queues none of them again.
    queued.clear()
    assert billing.billing_run(now=NOW + timedelta(minutes=5))["renewed"] == 0
    assert queued == []
    assert not Invoice.objects.exists()  # the run itself bills nothing: the workers do


@pytest.mark.django_db
def test_a_task_delivered_twice_bills_the_period_once(catalog, stub_charges):
    (sub,) = _due(catalog)
    assert billing.billing_item(step="renewed", pk=sub.pk, now=NOW) == "done"
    assert billing.billing_item(step="renewed", pk=sub.pk, now=NOW) == "skipped"
    assert Invoice.objects.filter(subscription=sub).count() == 1
    assert PaymentAttempt.objects.count() == 1
    assert len(stub_charges) == 1
    assert not cache.get(f"billing:renewed:{sub.pk}")  # the claim is given back when done


@pytest.mark.django_db
def test_the_selects_use_the_due_indexes(catalog):
    """Each step's select reads its partial index, never the whole table."""
    if connection.vendor != "sqlite":
        pytest.skip("the PostgreSQL plans are shown by bench/billing_run.py (EXPLAIN ANALYZE)")
    _due(catalog, count=3)
    for name, select in billing.billing_selects(now=NOW):
        sql, params = select.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (name, plan)
        assert "SCAN subscriptions_subscription" not in plan, (name, plan)
