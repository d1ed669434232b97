"""Where money could go wrong between two rules, through localstripe: an upgrade then a
cancellation, a cancellation undone twice, a declined change, a double click, a card that
always asks for authentication, a refund recorded twice (000, 002, 003, 004)."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import stripe
import time_machine
from django.db import transaction

from subscriptions import entitlements
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    AttemptStatus,
    ChangeRequestStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    RefundRequest,
    RefundStatus,
    SubscriptionStatus,
)
from subscriptions.money import format_money
from subscriptions.services import plan_changes
from subscriptions.services.billing import billing_run
from subscriptions.services.cancellation import (
    cancellation_confirm,
    cancellation_quote,
    cancellation_undo,
    refund_to_charge_back,
    refunds_to_charge_back,
)
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import change_request_create, change_request_decide
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.invoices import invoice_issue
from subscriptions.services.payments import (
    charge_refunds_sync,
    invoice_charge,
    invoice_pay_now,
    payment_result_apply,
)
from subscriptions.services.plan_changes import plan_change, quote_token
from subscriptions.services.refund_quotes import refundable_left
from subscriptions.services.refunds import (
    refund_request_create,
    refund_requests_create,
    refunds_retry,
)
from subscriptions.services.trials import trial_start
from tests.subscriptions.test_changes import T0, change, price, subscribed

pytestmark = pytest.mark.django_db(transaction=True)

YEAR_END = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)


@contextmanager
def stripe_unreachable():
    base = stripe.api_base
    stripe.api_base = "http://127.0.0.1:9"  # nothing listens there
    try:
        yield
    finally:
        stripe.api_base = base


def cancel(user, sub, at):
    return cancellation_confirm(user=user, subscription=sub, reason="", now=at)


# --- an upgrade, then a cancellation (004) -------------------------------------------------------


def test_cancelling_after_an_upgrade_refunds_the_months_left_of_both_payments(
    customer, catalog, add_card, mailoutbox
):
    sub = subscribed(customer, add_card, "pro", "year")
    upgraded_at = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    sub = change(customer, sub, price("premium", "year"), upgraded_at)
    first = Invoice.objects.get(kind=InvoiceKind.FIRST)
    extra = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert (extra.period_start, extra.period_end) == (upgraded_at, YEAR_END)

    at = datetime(2026, 4, 10, tzinfo=UTC)  # the third month of the year: 31 Mar - 30 Apr
    ends = datetime(2026, 4, 30, 9, 30, tzinfo=UTC)
    # The first payment: the 9 full months after April, of 12, taxes excluded (002, 004).
    from_first = 49000 * 9 // 12
    # The upgrade was prorated by the second: so is its refund, from the end date on.
    extra_net = extra.total - extra.tax
    from_extra = (
        extra_net
        * int((YEAR_END - ends).total_seconds())
        // int((YEAR_END - upgraded_at).total_seconds())
    )
    quote = cancellation_quote(subscription=sub, now=at)
    assert quote.ends_at == ends
    assert quote.refund.amount == from_first + from_extra

    sub, refunded = cancel(customer, sub, at)

    assert {r.invoice_id: r.amount for r in refunded} == {
        first.pk: from_first,
        extra.pk: from_extra,
    }
    assert all(r.status == RefundStatus.SUCCEEDED for r in refunded)
    assert all(r.ends_at == ends for r in refunded)
    assert sub.cancel_at == ends
    for invoice, amount in ((first, from_first), (extra, from_extra)):
        assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == amount
        invoice.refresh_from_db()
        assert invoice.amount_refunded == amount
    total = format_money(from_first + from_extra, "EUR", "fr")  # the customer's language
    assert total == "594,35\xa0€"
    acknowledgement = next(m for m in mailoutbox if sub.reference in m.subject)
    assert total in acknowledgement.body


def test_within_the_guarantee_an_upgrade_is_refunded_in_full_with_the_first_payment(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "month")
    sub = change(customer, sub, price("premium", "month"), T0 + timedelta(days=3))
    extra = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    at = T0 + timedelta(days=10)
    quote = cancellation_quote(subscription=sub, now=at)
    assert quote.guarantee.amount == 4900 + (extra.total - extra.tax)

    sub, refunded = cancellation_confirm(
        user=customer, subscription=sub, reason="", now=at, full_refund=True
    )
    assert sum(r.amount for r in refunded) == quote.guarantee.amount
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.CANCELED


def test_a_guarantee_refund_asked_on_the_first_invoice_also_refunds_a_new_yearly_period(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "month")
    sub = change(customer, sub, price("premium", "year"), T0 + timedelta(days=5))
    january = Invoice.objects.get(kind=InvoiceKind.FIRST)
    yearly = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert yearly.period_start == sub.current_period_start  # a new period started

    refunded = refund_requests_create(
        user=customer,
        invoice=january,
        reason="changed_mind",
        details="",
        now=T0 + timedelta(days=7),
    )

    assert {r.invoice_id: r.amount for r in refunded} == {
        january.pk: 4900,
        yearly.pk: yearly.total - yearly.tax,
    }
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.CANCELED


def test_after_an_approved_contract_change_cancelling_refunds_the_months_left(
    customer, catalog, add_card, reviewer
):
    sub = subscribed(customer, add_card, "standard", "year")
    request = change_request_create(
        user=customer, subscription=sub, target=price("premium", "year"), reason="SMS", message=""
    )
    approved_at = T0 + timedelta(days=40)
    change_request_decide(change=request, actor=reviewer, approve=True, reason="", now=approved_at)
    sub.refresh_from_db()
    extra = Invoice.objects.get(kind=InvoiceKind.PRORATION)

    # Premium yearly has no commitment: cancelling in the second month (28 Feb - 31 Mar)
    # refunds the 10 months after it of the Standard payment, and the approved change's
    # payment from 31 March on.
    at = T0 + timedelta(days=50)
    ends = datetime(2026, 3, 31, 9, 30, tzinfo=UTC)
    from_extra = (
        (extra.total - extra.tax)
        * int((YEAR_END - ends).total_seconds())
        // int((YEAR_END - approved_at).total_seconds())
    )
    quote = cancellation_quote(subscription=sub, now=at)
    assert not quote.committed
    assert quote.ends_at == ends
    assert quote.refund.amount == price("standard", "year").amount * 10 // 12 + from_extra


# --- "keep my subscription", twice (003, 004) --------------------------------------------------


def test_each_refund_is_charged_again_once_when_the_subscription_is_kept(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)
    sub, (refund,) = cancel(customer, sub, at)
    assert refund.amount == 40833

    sub = cancellation_undo(user=customer, subscription=sub, now=at + timedelta(days=1))
    back = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    # Taxed as the invoice the refund came from (20 %): the refund's credit note gave that VAT
    # back, the charge collects it again; the customer pays the same 408,33 €.
    assert (back.total, back.tax, back.status) == (40833, 6805, InvoiceStatus.PAID)
    assert back.tax_rate_bps == 2000
    assert back.refundable_base == 40833  # refundable whole, as the refund it reverses
    refund.refresh_from_db()
    assert refund.charged_back_by == back

    # Cancelled again in the same month: the months charged again are refunded again, all of
    # them (their VAT was paid on the first invoice and never refunded).
    at2 = at + timedelta(days=5)
    assert cancellation_quote(subscription=sub, now=at2).refund.amount == 40833
    sub, (again,) = cancel(customer, sub, at2)
    assert (again.invoice, again.amount, again.status) == (back, 40833, RefundStatus.SUCCEEDED)

    # Kept again: only the second refund is charged again, not the first one a second time.
    sub = cancellation_undo(user=customer, subscription=sub, now=at2 + timedelta(days=1))
    charged_back = Invoice.objects.filter(kind=InvoiceKind.PRORATION).order_by("pk")
    assert [i.total for i in charged_back] == [40833, 40833]
    assert RefundRequest.objects.filter(charged_back_by__isnull=True).count() == 0
    assert sub.cancel_at is None
    assert refund_to_charge_back(sub) is None


def test_a_kept_trial_that_had_a_plan_is_billed_at_its_end(customer, catalog, add_card):
    sub = trial_start(user=customer, plan=catalog["pro"], now=T0)
    add_card(customer)
    subscribe(user=customer, price=price("pro", "month"), now=T0)
    sub.refresh_from_db()
    sub, _ = cancel(customer, sub, T0 + timedelta(days=2))
    sub = cancellation_undo(user=customer, subscription=sub, now=T0 + timedelta(days=3))
    assert sub.price.plan.code == "pro"

    billing_run(now=sub.trial_ends_at)

    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert Invoice.objects.get().total == 5880


def test_choosing_a_plan_after_cancelling_the_trial_continues_it_and_bills_at_its_end(
    customer, catalog, add_card
):
    sub = trial_start(user=customer, plan=catalog["pro"], now=T0)
    sub, _ = cancel(customer, sub, T0 + timedelta(days=1))
    assert sub.cancel_at == sub.trial_ends_at
    add_card(customer)
    subscribe(user=customer, price=price("pro", "month"), now=T0 + timedelta(days=2))
    sub.refresh_from_db()
    assert sub.cancel_at is None

    billing_run(now=sub.trial_ends_at)

    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert Invoice.objects.get().status == InvoiceStatus.PAID


# --- a declined or doubled change (004) -----------------------------------------------------------


def test_a_declined_upgrade_is_no_debt_no_dunning_no_email(customer, catalog, add_card, mailoutbox):
    sub = subscribed(customer, add_card, "pro", "month")
    add_card(customer, "pm_card_chargeCustomerFail")
    sent = len(mailoutbox)
    with pytest.raises(SubscriptionError, match="you stay on your current plan"):
        change(customer, sub, price("premium", "month"), T0 + timedelta(days=3))

    sub.refresh_from_db()
    declined = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert sub.status == SubscriptionStatus.ACTIVE
    assert (declined.status, declined.next_retry_at) == (InvoiceStatus.VOID, None)
    assert len(mailoutbox) == sent
    billing_run(now=T0 + timedelta(days=5))
    assert declined.attempts.count() == 1
    assert entitlements.has_feature(customer, "core")


def test_a_second_click_while_an_upgrade_is_being_paid_changes_nothing(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=3)
    target = price("premium", "month")
    token = quote_token(subscription=sub, target=target, quoted_at=at)
    # The first click has issued its invoice and is waiting for Stripe.
    with transaction.atomic():
        invoice_issue(
            subscription=sub,
            kind=InvoiceKind.PRORATION,
            period_start=at,
            period_end=sub.current_period_end,
            now=at,
            price=target,
            lines=[("upgrade", 3000)],
        )
    with pytest.raises(SubscriptionError, match="in progress"):
        plan_change(user=customer, subscription=sub, target=target, token=token, now=at)
    assert Invoice.objects.filter(kind=InvoiceKind.PRORATION).count() == 1
    assert not PaymentAttempt.objects.filter(invoice__kind=InvoiceKind.PRORATION).exists()


def test_the_reminder_before_a_downgrade_names_the_new_plan_and_its_amount(
    customer, catalog, add_card, mailoutbox
):
    sub = subscribed(customer, add_card, "premium", "month")
    sub = change(customer, sub, price("pro", "month"), T0 + timedelta(days=5))
    assert sub.scheduled_price.plan.code == "pro"

    billing_run(now=sub.next_billing_at - timedelta(days=3))

    reminder = mailoutbox[-1]
    assert reminder.subject == "Votre abonnement Pro sera renouvelé le 28 février 2026"
    assert "58,80\xa0€" in reminder.body
    assert "94,80" not in reminder.body


# --- contract changes after the end (000) ---------------------------------------------------------


def test_a_contract_change_cannot_be_approved_once_the_subscription_has_ended(
    customer, catalog, add_card, reviewer
):
    sub = subscribed(customer, add_card, "standard", "year")
    request = change_request_create(
        user=customer, subscription=sub, target=price("premium", "year"), reason="SMS", message=""
    )
    late = YEAR_END + timedelta(hours=1)  # the renewal has not been charged yet
    with pytest.raises(SubscriptionError, match="cannot change now"):
        change_request_decide(change=request, actor=reviewer, approve=True, reason="", now=late)
    request.refresh_from_db()
    assert request.status == ChangeRequestStatus.PENDING

    cancel(customer, sub, T0 + timedelta(days=30))
    billing_run(now=YEAR_END)
    sub.refresh_from_db()
    request.refresh_from_db()
    assert sub.status == SubscriptionStatus.CANCELED
    assert request.status == ChangeRequestStatus.WITHDRAWN
    assert not Invoice.objects.filter(kind=InvoiceKind.PRORATION).exists()


# --- dunning (004) --------------------------------------------------------------------------------


def test_an_unpaid_invoice_cannot_be_refunded(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "pro", "month")
    add_card(customer, "pm_card_chargeCustomerFail")
    billing_run(now=sub.next_billing_at)
    unpaid = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    assert unpaid.status == InvoiceStatus.OPEN
    with pytest.raises(SubscriptionError, match="cannot be refunded"):
        refund_request_create(
            user=customer,
            invoice=unpaid,
            reason="service_problem",
            details="It never worked",
            now=sub.next_billing_at,
        )
    assert not RefundRequest.objects.exists()


def test_a_decline_is_explained_in_the_customers_language(customer, catalog, add_card, mailoutbox):
    customer.language = "fr"
    customer.save(update_fields=["language"])
    sub = subscribed(customer, add_card, "pro", "month")
    add_card(customer, "pm_card_chargeCustomerFail")
    billing_run(now=sub.next_billing_at)
    attempt = PaymentAttempt.objects.get(invoice__kind=InvoiceKind.RENEWAL)
    assert attempt.failure_code == "card_declined"
    assert "Motif : la banque a refusé le paiement" in mailoutbox[-1].body


def test_a_retry_after_stripe_was_unreachable_reuses_the_same_idempotency_key(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "month")
    with stripe_unreachable():
        billing_run(now=sub.next_billing_at)
    invoice = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    (attempt,) = invoice.attempts.all()
    assert attempt.failure_code == "unavailable"

    billing_run(now=invoice.next_retry_at)

    (again,) = invoice.attempts.all()  # the same try, sent again: Stripe answers it once
    assert (again.pk, again.status) == (attempt.pk, AttemptStatus.SUCCEEDED)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_charge_interrupted_mid_call_is_sent_again_under_its_key(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "pro", "month")
    with time_machine.travel(sub.next_billing_at, tick=False), transaction.atomic():
        invoice = invoice_issue(
            subscription=sub,
            kind=InvoiceKind.RENEWAL,
            period_start=sub.current_period_end,
            period_end=sub.current_period_end + timedelta(days=28),
            now=sub.next_billing_at,
        )
        stuck = PaymentAttempt.objects.create(
            invoice=invoice,
            number=1,
            amount=invoice.total,
            currency=invoice.currency,
            trigger="renewal",
            payment_method_id=sub.user.billing.payment_method_id,
        )
    # Five minutes later the worker may still be talking to Stripe: left alone.
    with time_machine.travel(sub.next_billing_at + timedelta(minutes=5), tick=False):
        invoice_charge(invoice=invoice, trigger="retry", now=sub.next_billing_at)
    stuck.refresh_from_db()
    assert stuck.status == AttemptStatus.PENDING
    # Past ten minutes it died: the same attempt is sent again, and the invoice is paid once.
    with time_machine.travel(sub.next_billing_at + timedelta(minutes=11), tick=False):
        invoice_charge(invoice=invoice, trigger="retry", now=sub.next_billing_at)
    (attempt,) = invoice.attempts.all()
    assert (attempt.pk, attempt.status) == (stuck.pk, AttemptStatus.SUCCEEDED)


# --- a refund recorded from both sides (002) ------------------------------------------------------


def test_a_refund_seen_by_the_webhook_first_is_counted_once(
    customer, catalog, add_card, monkeypatch
):
    subscribed(customer, add_card, "pro", "month")
    invoice = Invoice.objects.get()
    real = gateway.refund_create

    def refund_then_webhook(**kwargs):
        refund_id = real(**kwargs)
        # `charge.refunded` arrives before the portal has recorded its own refund.
        charge_refunds_sync(charge_id=kwargs["charge_id"], now=T0)
        return refund_id

    monkeypatch.setattr(gateway, "refund_create", refund_then_webhook)
    refund = refund_request_create(
        user=customer, invoice=invoice, reason="changed_mind", details="", now=T0
    )
    invoice.refresh_from_db()
    assert refund.amount == 4900
    assert invoice.amount_refunded == 4900
    assert refundable_left(invoice) == 0


# --- a worker that dies, a late answer, a second click (004) --------------------------------------


def test_a_renewal_cut_off_mid_call_is_sent_again_by_the_next_run(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "month")
    due = sub.next_billing_at
    real = gateway.payment_charge

    def worker_killed(**kwargs):
        raise RuntimeError("worker killed while Stripe was answering")

    monkeypatch.setattr(gateway, "payment_charge", worker_killed)
    with time_machine.travel(due, tick=False):
        done = billing_run(now=due)
    assert done["errors"] == 1
    invoice = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    (attempt,) = invoice.attempts.all()
    assert attempt.status == AttemptStatus.PENDING
    assert invoice.next_retry_at == due + timedelta(hours=1)

    monkeypatch.setattr(gateway, "payment_charge", real)
    later = due + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        billing_run(now=later)
    (again,) = invoice.attempts.all()
    assert (again.pk, again.status) == (attempt.pk, AttemptStatus.SUCCEEDED)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.next_retry_at) == (InvoiceStatus.PAID, None)


def test_a_success_heard_after_stripe_seemed_unreachable_pays_the_invoice(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "month")
    with stripe_unreachable():
        billing_run(now=sub.next_billing_at)
    attempt = PaymentAttempt.objects.get(invoice__kind=InvoiceKind.RENEWAL)
    assert attempt.failure_code == "unavailable"

    late = gateway.PaymentResult(
        payment_intent_id="pi_late", status="succeeded", charge_id="ch_late"
    )
    payment_result_apply(attempt=attempt, result=late, now=sub.next_billing_at)

    attempt.invoice.refresh_from_db()
    assert attempt.invoice.status == InvoiceStatus.PAID
    assert attempt.invoice.stripe_charge_id == "ch_late"


def test_a_second_click_after_the_upgrade_was_paid_is_not_charged_again(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=3)
    target = price("premium", "month")
    token = quote_token(subscription=sub, target=target, quoted_at=at)
    # The first click was paid a moment ago and is about to switch the plan.
    with transaction.atomic():
        first = invoice_issue(
            subscription=sub,
            kind=InvoiceKind.PRORATION,
            period_start=at,
            period_end=sub.current_period_end,
            now=at,
            price=target,
            lines=[("upgrade", 3000)],
        )
    Invoice.objects.filter(pk=first.pk).update(
        status=InvoiceStatus.PAID, paid_at=at + timedelta(seconds=1)
    )
    with pytest.raises(SubscriptionError, match="in progress"):
        plan_change(
            user=customer,
            subscription=sub,
            target=target,
            token=token,
            now=at + timedelta(seconds=2),
        )
    assert Invoice.objects.filter(kind=InvoiceKind.PRORATION).count() == 1


def test_a_refund_being_sent_counts_as_given_back_and_a_cut_off_one_is_sent_again(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)
    real = gateway.refund_create
    seen = {}

    def cut_off(**kwargs):
        row = RefundRequest.objects.get()
        seen["status"] = row.status
        seen["charged_back"] = [r.pk for r in refunds_to_charge_back(row.subscription)]
        raise RuntimeError("worker killed while Stripe was answering")

    monkeypatch.setattr(gateway, "refund_create", cut_off)
    with pytest.raises(RuntimeError):
        cancel(customer, sub, at)
    row = RefundRequest.objects.get()
    assert seen == {"status": RefundStatus.PROCESSING, "charged_back": [row.pk]}
    assert row.next_attempt_at == at + timedelta(minutes=10)

    monkeypatch.setattr(gateway, "refund_create", real)
    assert refunds_retry(now=at + timedelta(minutes=5)) == 0  # maybe still in flight
    assert refunds_retry(now=at + timedelta(minutes=10)) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (RefundStatus.SUCCEEDED, 2)
    charge = stripe.Charge.retrieve(Invoice.objects.get().stripe_charge_id)
    assert charge.amount_refunded == row.amount == 40833


# --- a change whose payment Stripe did not answer (004) ---------------------------------------


def _timeout(real=None):
    def charge(**kwargs):
        if real is not None:
            real(**kwargs)  # Stripe takes the money; the answer is lost on the way back
        raise gateway.GatewayError("The payment service is unavailable, please try again.")

    return charge


def test_an_upgrade_stripe_took_without_answering_is_found_and_refunded_in_full(
    customer, catalog, add_card, monkeypatch, mailoutbox
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=3)
    target = price("premium", "month")
    monkeypatch.setattr(gateway, "payment_charge", _timeout(real=gateway.payment_charge))
    with pytest.raises(SubscriptionError, match="nothing was changed"):
        change(customer, sub, target, at)
    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert (invoice.status, invoice.next_retry_at) == (
        InvoiceStatus.OPEN,
        at + timedelta(minutes=15),
    )
    with pytest.raises(SubscriptionError, match="in progress"):
        change(customer, sub, target, at + timedelta(minutes=1))
    with pytest.raises(SubscriptionError, match="cannot be paid"):
        invoice_pay_now(user=customer, invoice=invoice, now=at + timedelta(minutes=2))

    billing_run(now=at + timedelta(minutes=15))

    invoice.refresh_from_db()
    refund = RefundRequest.objects.get(invoice=invoice)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.attempts.count() == 1  # looked up, never sent again
    assert (refund.rule, refund.amount, refund.status) == (
        "unapplied_change",
        invoice.total,  # tax included: nothing was delivered for it
        RefundStatus.SUCCEEDED,
    )
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == invoice.total
    sub.refresh_from_db()
    assert sub.plan.code == "pro"
    total = format_money(invoice.total, "EUR", "fr")
    assert f"Nous avons remboursé {total} pour la facture {invoice.number}" in mailoutbox[-1].body


def test_an_upgrade_that_never_reached_stripe_is_voided_and_can_be_made_again(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=3)
    target = price("premium", "month")
    real = gateway.payment_charge
    monkeypatch.setattr(gateway, "payment_charge", _timeout())
    with pytest.raises(SubscriptionError, match="nothing was changed"):
        change(customer, sub, target, at)
    monkeypatch.setattr(gateway, "payment_charge", real)

    billing_run(now=at + timedelta(minutes=15))

    lost = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert lost.status == InvoiceStatus.VOID
    assert not RefundRequest.objects.exists()
    later = at + timedelta(minutes=20)
    sub = change(customer, sub, target, later)
    assert sub.plan.code == "premium"
    paid = Invoice.objects.get(kind=InvoiceKind.PRORATION, status=InvoiceStatus.PAID)
    assert stripe.Charge.retrieve(paid.stripe_charge_id).amount == paid.total


# --- answers lost on the way back (004) ----------------------------------------------------------


def _killed(real):
    def charge(**kwargs):
        real(**kwargs)  # Stripe takes the money, then the worker dies
        raise RuntimeError("worker killed")

    return charge


def test_an_upgrade_whose_worker_died_is_settled_by_the_billing_run(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=3)
    target = price("premium", "month")
    real = gateway.payment_charge
    monkeypatch.setattr(gateway, "payment_charge", _killed(real))
    with time_machine.travel(at, tick=False), pytest.raises(RuntimeError):
        change(customer, sub, target, at)
    monkeypatch.setattr(gateway, "payment_charge", real)
    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert (invoice.status, invoice.next_retry_at) == (
        InvoiceStatus.OPEN,
        at + timedelta(minutes=15),
    )

    later = at + timedelta(minutes=15)
    with time_machine.travel(later, tick=False):
        billing_run(now=later)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert RefundRequest.objects.get(invoice=invoice).amount == invoice.total
    sub = change(customer, sub, target, later + timedelta(minutes=1))  # no longer blocked
    assert sub.plan.code == "premium"


def test_a_change_payment_being_settled_survives_the_end_of_the_subscription(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=3)
    monkeypatch.setattr(gateway, "payment_charge", _timeout(real=gateway.payment_charge))
    with pytest.raises(SubscriptionError, match="nothing was changed"):
        change(customer, sub, price("premium", "month"), at)
    first = Invoice.objects.get(kind=InvoiceKind.FIRST)
    refund_request_create(
        user=customer,
        invoice=first,
        reason="changed_mind",
        details="",
        now=at + timedelta(minutes=5),
    )
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.CANCELED
    pending = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert pending.status == InvoiceStatus.OPEN

    billing_run(now=at + timedelta(minutes=15))

    assert RefundRequest.objects.get(invoice=pending).amount == pending.total


def _refund_answer_lost(real):
    def refund(**kwargs):
        real(**kwargs)  # Stripe refunds; its answer never arrives
        raise gateway.GatewayError("The payment service is unavailable, please try again.")

    return refund


def test_a_refund_made_without_an_answer_is_recorded_once_even_after_the_webhook(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)
    real = gateway.refund_create
    monkeypatch.setattr(gateway, "refund_create", _refund_answer_lost(real))
    sub, (refund,) = cancel(customer, sub, at)
    assert refund.status == RefundStatus.FAILED
    monkeypatch.setattr(gateway, "refund_create", real)
    invoice = Invoice.objects.get()
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=at)  # charge.refunded

    refunds_retry(now=refund.next_attempt_at)

    refund.refresh_from_db()
    invoice.refresh_from_db()
    assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, 40833)
    assert invoice.amount_refunded == 40833
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == 40833


def test_keeping_after_a_refund_made_without_an_answer_charges_it_back(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)
    monkeypatch.setattr(gateway, "refund_create", _refund_answer_lost(gateway.refund_create))
    sub, (refund,) = cancel(customer, sub, at)
    assert refund.status == RefundStatus.FAILED

    cancellation_undo(user=customer, subscription=sub, now=at + timedelta(hours=1))

    refund.refresh_from_db()
    back = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert (refund.status, refund.charged_back_by) == (RefundStatus.SUCCEEDED, back)
    assert back.total == 40833


def test_the_guarantee_after_a_kept_cancellation_gives_back_everything_paid(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = T0 + timedelta(days=2)
    sub, (refund,) = cancel(customer, sub, at)
    assert refund.amount == 49000 * 11 // 12
    sub = cancellation_undo(user=customer, subscription=sub, now=at + timedelta(hours=1))

    later = at + timedelta(days=1)
    quote = cancellation_quote(subscription=sub, now=later)
    assert quote.guarantee.amount == 49000  # the price before tax, all of it
    sub, refunded = cancellation_confirm(
        user=customer, subscription=sub, reason="", now=later, full_refund=True
    )
    assert sum(r.amount for r in refunded) == 49000
    first = Invoice.objects.get(kind=InvoiceKind.FIRST)
    assert (
        first.amount_refunded
        + sum(i.amount_refunded for i in Invoice.objects.filter(kind=InvoiceKind.PRORATION))
        == 49000 * 11 // 12 + 49000
    )


def test_a_new_card_after_a_renewal_cut_off_does_not_pay_it_twice(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "month")
    real = gateway.payment_charge
    monkeypatch.setattr(gateway, "payment_charge", _killed(real))
    billing_run(now=sub.next_billing_at)
    monkeypatch.setattr(gateway, "payment_charge", real)
    invoice = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    assert invoice.attempts.get().status == AttemptStatus.PENDING

    old_card = customer.billing.payment_method_id
    assert add_card(customer).payment_method_id != old_card  # a new card
    invoice_pay_now(user=customer, invoice=invoice, now=sub.next_billing_at)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.attempts.count() == 1
    charges = stripe.PaymentIntent.list(customer=customer.billing.stripe_customer_id, limit=100)
    assert len([pi for pi in charges.data if pi.status == "succeeded"]) == 2  # first + renewal


def test_a_refund_still_on_its_way_when_charged_back_is_not_refunded_twice(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 9, 15, tzinfo=UTC)  # the 8th month: 4 full months left
    real = gateway.refund_create

    def killed(**kwargs):
        raise RuntimeError("worker killed before Stripe was asked")

    monkeypatch.setattr(gateway, "refund_create", killed)
    with pytest.raises(RuntimeError):
        cancel(customer, sub, at)
    monkeypatch.setattr(gateway, "refund_create", real)
    first = RefundRequest.objects.get()
    assert (first.status, first.amount) == (RefundStatus.PROCESSING, 49000 * 4 // 12)
    sub.refresh_from_db()
    sub = cancellation_undo(user=customer, subscription=sub, now=at + timedelta(minutes=1))

    # Cancelled again: the months are refunded once, from the payment that charged them again.
    again = at + timedelta(minutes=2)
    assert cancellation_quote(subscription=sub, now=again).refund.amount == first.amount
    cancel(customer, sub, again)
    refunds_retry(now=at + timedelta(minutes=10))  # the first one is sent at last

    refunded = sum(
        stripe.Charge.retrieve(i.stripe_charge_id).amount_refunded for i in Invoice.objects.all()
    )
    assert refunded == 2 * first.amount  # once for each payment of those months


def test_a_refund_asked_while_a_keep_is_unsettled_is_not_undone_by_the_settlement(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)
    sub, (refund,) = cancel(customer, sub, at)
    real = gateway.payment_charge
    monkeypatch.setattr(gateway, "payment_charge", _killed(real))
    with time_machine.travel(at + timedelta(hours=1), tick=False), pytest.raises(RuntimeError):
        cancellation_undo(user=customer, subscription=sub, now=at + timedelta(hours=1))
    monkeypatch.setattr(gateway, "payment_charge", real)
    keep = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    refund.refresh_from_db()
    assert refund.charged_back_by == keep
    # Meanwhile the customer asks staff to look at the first payment.
    review = refund_request_create(
        user=customer,
        invoice=Invoice.objects.get(kind=InvoiceKind.FIRST),
        reason="service_problem",
        details="The export never worked",
        now=at + timedelta(hours=1, minutes=5),
    )
    assert review.status == RefundStatus.REVIEW

    settle_at = at + timedelta(hours=1, minutes=15)
    with time_machine.travel(settle_at, tick=False):
        done = billing_run(now=settle_at)

    assert done["errors"] == 0
    keep.refresh_from_db()
    assert keep.status == InvoiceStatus.PAID
    assert RefundRequest.objects.get(invoice=keep).amount == keep.total  # taken, so refunded
    sub.refresh_from_db()
    assert sub.cancel_at is not None  # the keep did not happen
    refund.refresh_from_db()
    assert refund.charged_back_by == keep  # left as it was: the review stands on that payment


def test_an_upgrade_paid_but_never_made_is_refunded_by_the_billing_run(
    customer, catalog, add_card, monkeypatch
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=3)

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed after the payment, before the switch")

    monkeypatch.setattr(plan_changes, "switch_now", killed)
    with pytest.raises(RuntimeError):
        change(customer, sub, price("premium", "month"), at)
    monkeypatch.undo()
    paid = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert paid.status == InvoiceStatus.PAID
    billing_run(now=at + timedelta(minutes=14))
    assert not RefundRequest.objects.exists()  # it may still be switching

    billing_run(now=at + timedelta(minutes=15))

    refund = RefundRequest.objects.get(invoice=paid)
    assert (refund.amount, refund.status) == (paid.total, RefundStatus.SUCCEEDED)
    sub.refresh_from_db()
    assert sub.plan.code == "pro"
    paid.refresh_from_db()
    assert paid.next_retry_at is None
    billing_run(now=at + timedelta(hours=1))
    assert RefundRequest.objects.count() == 1
