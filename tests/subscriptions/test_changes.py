"""Changing plan, cancelling and contract change requests, through localstripe, at the
boundaries the seeds set (000, 001, 003, 004)."""

from datetime import UTC, datetime, timedelta

import pytest
import stripe

from subscriptions import entitlements
from subscriptions.models import (
    ChangeRequestStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Price,
    RefundRequest,
    RefundStatus,
    SubscriptionStatus,
)
from subscriptions.services.billing import billing_run
from subscriptions.services.cancellation import (
    cancellation_confirm,
    cancellation_quote,
    cancellation_undo,
)
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import (
    change_request_create,
    change_request_decide,
    change_request_quote,
    change_request_withdraw,
)
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.plan_changes import (
    plan_change,
    plan_change_quote_for,
    plan_change_withdraw,
    quote_token,
)
from subscriptions.services.trials import trial_start
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def price(code, interval, currency="EUR"):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency=currency
    )


def subscribed(user, add_card, code, interval, at=T0):
    add_card(user)
    return subscribe(user=user, price=price(code, interval), now=at)


def change(user, sub, target, at):
    token = quote_token(subscription=sub, target=target, quoted_at=at)
    return plan_change(user=user, subscription=sub, target=target, token=token, now=at)


# --- plan changes -------------------------------------------------------------------------------


def test_an_upgrade_is_charged_the_prorated_amount_shown_and_applies_at_once(
    customer, catalog, add_card, mailoutbox
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=10, hours=3, seconds=17)
    target = price("premium", "month")
    quote = plan_change_quote_for(subscription=sub, target=target, now=at)
    length = (sub.current_period_end - sub.current_period_start).total_seconds()
    left = (sub.current_period_end - at).total_seconds()
    assert quote.mode == "immediate"
    assert quote.amount_due == round((9480 - 5880) * left / length)

    sub = change(customer, sub, target, at)

    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert invoice.total == quote.amount_due
    assert invoice.status == InvoiceStatus.PAID
    assert stripe.PaymentIntent.retrieve(invoice.stripe_payment_intent_id).amount == invoice.total
    assert sub.plan.code == "premium"
    assert sub.current_period_end == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)  # period kept
    assert entitlements.has_feature(customer, "custom_branding")
    assert invoice.number in mailoutbox[-1].body


def test_a_declined_upgrade_leaves_the_old_plan_and_says_why(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "pro", "month")
    add_card(customer, "pm_card_chargeCustomerFail")
    with pytest.raises(SubscriptionError, match="you stay on your current plan"):
        change(customer, sub, price("premium", "month"), T0 + timedelta(days=3))
    sub.refresh_from_db()
    assert sub.plan.code == "pro"
    assert Invoice.objects.get(kind=InvoiceKind.PRORATION).status == InvoiceStatus.VOID
    assert not entitlements.has_feature(customer, "custom_branding")


def test_moving_to_a_yearly_plan_starts_a_new_year_less_the_unused_month(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=14)
    target = price("premium", "year")
    quote = plan_change_quote_for(subscription=sub, target=target, now=at)
    length = (sub.current_period_end - sub.current_period_start).total_seconds()
    left = (sub.current_period_end - at).total_seconds()
    assert quote.amount_due == round(94800 - 5880 * left / length)

    sub = change(customer, sub, target, at)
    assert (sub.current_period_start, sub.current_period_end) == (
        at,
        datetime(2027, 2, 14, 9, 30, tzinfo=UTC),
    )
    assert sub.next_billing_at == sub.current_period_end
    assert Invoice.objects.get(kind=InvoiceKind.PRORATION).total == quote.amount_due


def test_a_downgrade_waits_for_the_next_period_and_can_be_withdrawn(
    customer, catalog, add_card, mailoutbox
):
    sub = subscribed(customer, add_card, "premium", "month")
    at = T0 + timedelta(days=5)
    quote = plan_change_quote_for(subscription=sub, target=price("pro", "month"), now=at)
    assert (quote.mode, quote.amount_due, quote.effective_at) == (
        "next_period",
        0,
        sub.current_period_end,
    )
    sub = change(customer, sub, price("pro", "month"), at)
    assert sub.scheduled_price.plan.code == "pro"
    assert sub.plan.code == "premium"
    assert Invoice.objects.count() == 1

    plan_change_withdraw(user=customer, subscription=sub)
    sub.refresh_from_db()
    assert sub.scheduled_price is None
    change(customer, sub, price("pro", "month"), at + timedelta(hours=1))

    billing_run(now=sub.current_period_end)
    sub.refresh_from_db()
    renewal = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    assert sub.plan.code == "pro"
    assert renewal.total == 5880
    assert not entitlements.has_feature(customer, "custom_branding")


def test_a_quote_older_than_30_minutes_or_for_another_plan_is_refused(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "pro", "month")
    target = price("premium", "month")
    old = quote_token(subscription=sub, target=target, quoted_at=T0)
    with pytest.raises(SubscriptionError, match="expired"):
        plan_change(
            user=customer, subscription=sub, target=price("premium", "year"), token=old, now=T0
        )
    with pytest.raises(SubscriptionError, match="expired"):
        plan_change(user=customer, subscription=sub, target=target, token="forged", now=T0)
    assert not Invoice.objects.filter(kind=InvoiceKind.PRORATION).exists()


def test_under_a_commitment_there_is_no_self_service_change(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "standard", "year")
    target = price("premium", "year")
    assert plan_change_quote_for(subscription=sub, target=target, now=T0).mode == "review"
    with pytest.raises(SubscriptionError, match="commitment"):
        change(customer, sub, target, T0 + timedelta(days=1))


# --- contract change requests (000) ---------------------------------------------------------


def test_an_approved_upgrade_under_commitment_starts_now_with_the_unused_year_credited(
    customer, catalog, add_card, reviewer, mailoutbox
):
    sub = subscribed(customer, add_card, "standard", "year")
    target = price("premium", "year")
    request = change_request_create(
        user=customer, subscription=sub, target=target, reason="We need SMS reminders", message=""
    )
    with pytest.raises(SubscriptionError, match="already have a change request"):
        change_request_create(
            user=customer, subscription=sub, target=target, reason="again", message=""
        )
    at = T0 + timedelta(days=100)
    quote = change_request_quote(change=request, now=at)
    length = (sub.current_period_end - sub.current_period_start).total_seconds()
    left = (sub.current_period_end - at).total_seconds()
    # Both yearly prices with 20 % French VAT: the unused share of the difference.
    difference = (target.amount - price("standard", "year").amount) * 120 // 100
    assert quote.amount_due == round(difference * left / length)

    change_request_decide(change=request, actor=reviewer, approve=True, reason="", now=at)

    sub.refresh_from_db()
    request.refresh_from_db()
    assert request.status == ChangeRequestStatus.APPROVED
    assert request.decided_by == reviewer
    assert sub.plan.code == "premium"
    assert Invoice.objects.get(kind=InvoiceKind.PRORATION).total == quote.amount_due
    assert entitlements.has_feature(customer, "sms_reminders")
    assert "Votre changement de contrat est accepté" in [m.subject for m in mailoutbox]


def test_a_rejection_needs_a_written_reason_and_is_emailed(
    customer, catalog, add_card, reviewer, mailoutbox
):
    sub = subscribed(customer, add_card, "starter", "year")
    request = change_request_create(
        user=customer, subscription=sub, target=price("pro", "month"), reason="cheaper", message=""
    )
    with pytest.raises(SubscriptionError, match="reason"):
        change_request_decide(change=request, actor=reviewer, approve=False, reason=" ", now=T0)
    change_request_decide(
        change=request, actor=reviewer, approve=False, reason="Commitment runs to 2027", now=T0
    )
    request.refresh_from_db()
    assert request.status == ChangeRequestStatus.REJECTED
    assert "Commitment runs to 2027" in mailoutbox[-1].body
    sub.refresh_from_db()
    assert sub.plan.code == "starter"


def test_only_staff_with_the_permission_can_decide(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "starter", "year")
    request = change_request_create(
        user=customer, subscription=sub, target=price("standard", "year"), reason="x", message=""
    )
    support_agent = UserFactory(is_staff=True)
    with pytest.raises(SubscriptionError, match="not allowed"):
        change_request_decide(change=request, actor=support_agent, approve=True, reason="", now=T0)
    change_request_withdraw(user=customer, change=request)
    request.refresh_from_db()
    assert request.status == ChangeRequestStatus.WITHDRAWN


# --- cancellation (003, 004) ------------------------------------------------------------------


def test_cancelling_a_monthly_plan_runs_to_the_end_of_the_paid_month_without_refund(
    customer, catalog, add_card, mailoutbox
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=20)
    quote = cancellation_quote(subscription=sub, now=at)
    assert (quote.ends_at, quote.refund.amount, quote.guarantee) == (
        sub.current_period_end,
        0,
        None,
    )
    sub, refunded = cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    assert refunded == []
    assert sub.cancel_at == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert sub.next_billing_at is None
    ack = mailoutbox[-1]
    assert sub.reference in ack.subject
    assert "28" in ack.body
    assert "export" in ack.body.lower()

    billing_run(now=sub.cancel_at - timedelta(seconds=1))
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    billing_run(now=sub.cancel_at)
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.CANCELED
    assert Invoice.objects.count() == 1  # never renewed


def test_cancelling_a_yearly_plan_refunds_the_full_months_left_at_once(customer, catalog, add_card):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)  # month 2 of the year (28 Feb - 31 Mar)
    quote = cancellation_quote(subscription=sub, now=at)
    assert quote.ends_at == datetime(2026, 3, 31, 9, 30, tzinfo=UTC)
    assert quote.refund.amount == 49000 * 10 // 12  # taxes never refunded (002)

    sub, (refund,) = cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.amount == 40833
    assert stripe.Refund.retrieve(refund.stripe_refund_id).amount == 40833
    assert sub.cancel_at == quote.ends_at
    assert Invoice.objects.get().amount_refunded == 40833


def test_within_the_guarantee_the_full_refund_is_offered_and_ends_at_once(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "pro", "month")
    at = T0 + timedelta(days=14)  # the last second of the guarantee (004)
    quote = cancellation_quote(subscription=sub, now=at)
    assert quote.guarantee.amount == 4900
    sub, (refund,) = cancellation_confirm(
        user=customer, subscription=sub, reason="", now=at, full_refund=True
    )
    sub.refresh_from_db()
    assert refund.amount == 4900
    assert refund.rule == "guarantee"
    assert sub.status == SubscriptionStatus.CANCELED
    assert not entitlements.has_feature(customer, "core")


def test_under_a_commitment_cancelling_turns_off_renewal_until_the_term_end(
    customer, catalog, add_card
):
    sub = subscribed(customer, add_card, "standard", "year")
    at = T0 + timedelta(days=40)
    quote = cancellation_quote(subscription=sub, now=at)
    assert quote.committed
    assert quote.ends_at == datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    assert quote.refund.amount == 0
    sub, refunded = cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    assert refunded == []
    assert sub.cancel_at == quote.ends_at


def test_keep_my_subscription_restores_it_and_charges_back_refunded_months(
    customer, catalog, add_card, mailoutbox
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)
    sub, (refund,) = cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    sub = cancellation_undo(user=customer, subscription=sub, now=at + timedelta(days=1))
    assert sub.cancel_at is None
    assert sub.next_billing_at == sub.current_period_end
    back = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert back.total == refund.amount
    assert back.status == InvoiceStatus.PAID

    monthly_user = UserFactory()
    monthly = subscribed(monthly_user, add_card, "pro", "month")
    monthly, _ = cancellation_confirm(
        user=monthly_user, subscription=monthly, reason="", now=T0 + timedelta(days=20)
    )
    monthly = cancellation_undo(
        user=monthly_user, subscription=monthly, now=T0 + timedelta(days=21)
    )
    assert monthly.next_billing_at == monthly.current_period_end
    with pytest.raises(SubscriptionError):
        cancellation_undo(user=monthly_user, subscription=monthly, now=T0 + timedelta(days=22))
    assert RefundRequest.objects.filter(user=monthly_user).count() == 0


def test_a_cancelled_trial_is_never_billed_and_expires_at_its_end(customer, catalog, add_card):
    sub = trial_start(user=customer, plan=catalog["pro"], now=T0)
    add_card(customer)
    subscribe(user=customer, price=price("pro", "month"), now=T0)
    sub.refresh_from_db()
    sub, _ = cancellation_confirm(
        user=customer, subscription=sub, reason="", now=T0 + timedelta(days=2)
    )
    assert sub.cancel_at == sub.trial_ends_at
    billing_run(now=sub.trial_ends_at)
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.EXPIRED
    assert not Invoice.objects.exists()


def test_confirming_twice_records_one_cancellation_one_refund_one_email(
    customer, catalog, add_card, mailoutbox
):
    sub = subscribed(customer, add_card, "pro", "year")
    at = datetime(2026, 3, 15, tzinfo=UTC)
    cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    sent = len(mailoutbox)
    again, refunded = cancellation_confirm(
        user=customer, subscription=sub, reason="", now=at + timedelta(seconds=1)
    )
    assert refunded == []
    assert again.cancel_at == datetime(2026, 3, 31, 9, 30, tzinfo=UTC)
    assert RefundRequest.objects.count() == 1
    assert len(mailoutbox) == sent
    assert stripe.Charge.retrieve(Invoice.objects.get().stripe_charge_id).amount_refunded == 40833
