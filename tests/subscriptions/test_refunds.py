"""Refunds through localstripe (002, 004, 000): what is quoted is what Stripe refunds, once."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import stripe
from django.contrib.auth.models import Permission
from django.db import connection

from subscriptions.models import (
    Invoice,
    InvoiceKind,
    RefundRequest,
    RefundStatus,
    SubscriptionStatus,
)
from subscriptions.services.billing import billing_run
from subscriptions.services.checkout import subscribe
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.payments import charge_refunds_sync
from subscriptions.services.refund_quotes import guarantee_used, refund_quote_for
from subscriptions.services.refunds import (
    refund_review_decide,
    refunds_retry,
)
from tests.factories import UserFactory
from tests.subscriptions.conftest import REFUNDS_T0 as T0

pytestmark = pytest.mark.django_db(transaction=True)


def test_guarantee_refunds_the_whole_price_without_tax_and_ends_the_subscription(
    customer, catalog, mailoutbox, subscribed, ask_refund
):
    invoice = subscribed(customer)
    at = T0 + timedelta(days=14)  # last second of the 14 days (004)
    quote = refund_quote_for(invoice=invoice, now=at)
    assert (quote.rule, quote.amount) == ("guarantee", 4900)

    refund = ask_refund(customer, invoice, at)

    assert refund.status == RefundStatus.SUCCEEDED
    assert stripe.Refund.retrieve(refund.stripe_refund_id).amount == 4900
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 4900
    assert invoice.subscription.status == SubscriptionStatus.CANCELED
    assert "3 à 5 jours ouvrables" in mailoutbox[-1].body


def test_one_second_after_the_guarantee_a_monthly_plan_gets_nothing(
    customer, catalog, subscribed, ask_refund
):
    invoice = subscribed(customer)
    at = T0 + timedelta(days=14, seconds=1)
    assert refund_quote_for(invoice=invoice, now=at).rule == "none"
    with pytest.raises(SubscriptionError, match="cannot be reviewed"):
        ask_refund(customer, invoice, at, reason="changed_mind")
    assert not RefundRequest.objects.exists()


def test_no_second_guarantee_for_the_same_plan(customer, catalog, subscribed, ask_refund):
    ask_refund(customer, subscribed(customer), T0 + timedelta(days=1))
    again = subscribed(customer, at=T0 + timedelta(days=2))
    assert refund_quote_for(invoice=again, now=T0 + timedelta(days=3)).rule == "none"
    other_plan = UserFactory()
    assert guarantee_used(user=other_plan, invoice=again) is False


def test_a_forgotten_renewal_is_refunded_within_5_business_days_across_ascension(
    catalog, add_card, eur_price, ask_refund
):
    # 002: renewal paid Tuesday 12 May 2026; Thursday 14 May is Ascension in France.
    user = UserFactory(country="FR", time_zone="Europe/Paris")
    add_card(user)
    start = datetime(2026, 4, 12, 8, 0, tzinfo=UTC)
    sub = subscribe(user=user, price=eur_price("pro", "month"), now=start)
    billing_run(now=sub.next_billing_at)
    renewal = Invoice.objects.get(user=user, kind=InvoiceKind.RENEWAL)
    # Business days after Tue 12: Wed 13, Fri 15, Mon 18, Tue 19, Wed 20 -> ends Wed 20 at
    # midnight Paris time (22:00 UTC).
    last = datetime(2026, 5, 20, 21, 59, 59, tzinfo=UTC)
    assert refund_quote_for(invoice=renewal, now=last).rule == "renewal_grace"
    assert refund_quote_for(invoice=renewal, now=last + timedelta(seconds=1)).rule == ("none")
    refund = ask_refund(user, renewal, last, reason="no_longer_used")
    assert refund.amount == 4900
    assert stripe.Refund.retrieve(refund.stripe_refund_id).amount == 4900


def test_a_service_problem_outside_the_rules_goes_to_review_and_staff_decide(
    customer, catalog, mailoutbox, subscribed, ask_refund
):
    invoice = subscribed(customer)
    at = T0 + timedelta(days=20)
    with pytest.raises(SubscriptionError, match="describe the problem"):
        ask_refund(customer, invoice, at, reason="service_problem", details="  ")
    refund = ask_refund(
        customer, invoice, at, reason="service_problem", details="Widget broken 5 days"
    )
    assert refund.status == RefundStatus.REVIEW
    # 002: a decision within 5 business days: from Sunday 24 May, Whit Monday (25) is a
    # French public holiday: Tue 26 ... Fri 29, Mon 1 June, ending at Paris midnight.
    assert refund.due_by == datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
    assert "1 juin 2026" in mailoutbox[-1].body

    staff = UserFactory(is_staff=True)
    with pytest.raises(SubscriptionError, match="not allowed"):
        refund_review_decide(
            refund=refund, actor=staff, approve=True, amount=100, reason="", now=at
        )
    staff.user_permissions.add(Permission.objects.get(codename="decide_refund"))
    staff = type(staff).objects.get(pk=staff.pk)
    with pytest.raises(SubscriptionError, match="at most what is left"):
        refund_review_decide(
            refund=refund, actor=staff, approve=True, amount=4901, reason="", now=at
        )
    refund = refund_review_decide(
        refund=refund, actor=staff, approve=True, amount=1500, reason="5 days down", now=at
    )
    assert refund.status == RefundStatus.SUCCEEDED
    assert stripe.Refund.retrieve(refund.stripe_refund_id).amount == 1500
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 1500
    assert invoice.subscription.status == SubscriptionStatus.ACTIVE


def test_a_rejected_review_is_explained_by_email(
    customer, catalog, mailoutbox, subscribed, ask_refund
):
    invoice = subscribed(customer)
    refund = ask_refund(
        customer, invoice, T0 + timedelta(days=20), "billing_error", "Charged twice?"
    )
    staff = UserFactory(is_staff=True, is_superuser=True)
    with pytest.raises(SubscriptionError, match="reason"):
        refund_review_decide(refund=refund, actor=staff, approve=False, amount=0, reason="", now=T0)
    refund_review_decide(
        refund=refund, actor=staff, approve=False, amount=0, reason="Charged once only", now=T0
    )
    assert "Charged once only" in mailoutbox[-1].body
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == 0


def test_asking_twice_refunds_once(customer, catalog, subscribed, ask_refund):
    invoice = subscribed(customer)
    ask_refund(customer, invoice, T0 + timedelta(days=1))
    with pytest.raises(SubscriptionError, match="already been requested"):
        ask_refund(customer, invoice, T0 + timedelta(days=1, seconds=1))
    assert RefundRequest.objects.count() == 1
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == 4900


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="20 concurrent writers need a server database; CI runs this on PostgreSQL",
)
def test_twenty_concurrent_requests_make_one_refund(customer, catalog, subscribed, ask_refund):
    invoice = subscribed(customer)
    at = T0 + timedelta(days=1)
    outcomes = []
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        try:
            ask_refund(customer, invoice, at)
            outcomes.append("refunded")
        except SubscriptionError:
            outcomes.append("refused")
        finally:
            connection.close()  # this thread's own connection, or teardown cannot drop the DB

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("refunded") == 1
    assert RefundRequest.objects.count() == 1
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == 4900


def test_stripe_down_keeps_the_request_and_a_retry_uses_the_same_key(
    customer, catalog, subscribed, ask_refund
):
    invoice = subscribed(customer)
    base = stripe.api_base
    stripe.api_base = "http://127.0.0.1:9"
    try:
        refund = ask_refund(customer, invoice, T0 + timedelta(days=1))
    finally:
        stripe.api_base = base
    assert refund.status == RefundStatus.FAILED
    assert refund.next_attempt_at == T0 + timedelta(days=1, minutes=5)
    assert refunds_retry(now=refund.next_attempt_at - timedelta(seconds=1)) == 0
    assert refunds_retry(now=refund.next_attempt_at) == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.attempts == 2
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == 4900


def test_never_more_than_what_is_left_of_the_charge(customer, catalog, subscribed, ask_refund):
    invoice = subscribed(customer)
    stripe.Refund.create(charge=invoice.stripe_charge_id, amount=4000)  # from the dashboard
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=T0)
    invoice.refresh_from_db()
    quote = refund_quote_for(invoice=invoice, now=T0 + timedelta(days=1))
    assert quote.amount == 900  # 4900 base - 4000 already refunded
    refund = ask_refund(customer, invoice, T0 + timedelta(days=1))
    assert refund.amount == 900
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == 4900
