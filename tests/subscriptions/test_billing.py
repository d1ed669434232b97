"""The billing engine through the real Stripe code path, against localstripe.

Time moves with time-machine; every amount, date, e-mail and state is what a customer or a
support agent would see.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import stripe
import time_machine
from allauth.account.models import EmailAddress

from subscriptions import entitlements
from subscriptions.models import (
    AttemptStatus,
    AuditEvent,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    Price,
    Subscription,
    SubscriptionStatus,
    TrialClaim,
)
from subscriptions.services import billing
from subscriptions.services.billing import billing_run
from subscriptions.services.checkout import checkout_quote, subscribe
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.offers import switching_offer_grant
from subscriptions.services.payments import invoice_charge, invoice_pay_now
from subscriptions.services.renewals import subscription_renew
from subscriptions.services.trials import trial_start
from tests.factories import UserFactory

# Real commits: e-mails are queued on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def price(code, interval, currency="EUR"):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency=currency
    )


def run(now):
    with time_machine.travel(now, tick=False):
        return billing_run(now=now)


def card_charges(user):
    """What Stripe took from this customer's card."""
    listed = stripe.PaymentIntent.list(customer=user.billing.stripe_customer_id, limit=100)
    return [pi.amount for pi in listed.data if pi.status == "succeeded"]


def subjects(mailoutbox):
    return [m.subject for m in mailoutbox]


# --- trial ----------------------------------------------------------------------------------


def test_a_trial_lasts_15_days_without_a_card_and_keeps_sms_off(customer, catalog, mailoutbox):
    sub = trial_start(user=customer, plan=catalog["premium"], now=T0)

    assert sub.status == SubscriptionStatus.TRIALING
    assert sub.trial_ends_at == T0 + timedelta(days=15)
    assert sub.next_billing_at == sub.trial_ends_at
    assert not hasattr(customer, "billing") or not customer.billing.has_card
    # 001: everything but SMS reminders during the trial.
    assert not entitlements.has_feature(customer, "sms_reminders")
    assert entitlements.has_feature(customer, "custom_branding")
    assert entitlements.has_feature(customer, "core")
    assert len(mailoutbox) == 1


def test_one_trial_per_email_even_after_the_account_is_deleted(customer, catalog):
    trial_start(user=customer, plan=catalog["pro"], now=T0)
    Subscription.objects.filter(user=customer).delete()
    with pytest.raises(SubscriptionError, match="already used your free trial"):
        trial_start(user=customer, plan=catalog["pro"], now=T0)

    email = customer.email.upper()
    customer.delete()
    again = UserFactory(email=email)
    EmailAddress.objects.create(user=again, email=email, verified=True, primary=True)
    with pytest.raises(SubscriptionError, match="already used your free trial"):
        trial_start(user=again, plan=catalog["pro"], now=T0)
    assert TrialClaim.objects.count() == 1


def test_an_unverified_email_cannot_start_a_trial(catalog, db):
    user = UserFactory()
    with pytest.raises(SubscriptionError, match="verify your e-mail"):
        trial_start(user=user, plan=catalog["pro"], now=T0)
    assert not Subscription.objects.exists()


def test_the_same_card_cannot_give_a_second_trial(catalog, add_card, mailoutbox):
    first = UserFactory()
    EmailAddress.objects.create(user=first, email=first.email, verified=True, primary=True)
    trial_start(user=first, plan=catalog["pro"], now=T0)
    add_card(first)
    subscribe(user=first, price=price("pro", "month"), now=T0)

    second = UserFactory()
    EmailAddress.objects.create(user=second, email=second.email, verified=True, primary=True)
    trial_start(user=second, plan=catalog["pro"], now=T0)
    add_card(second)  # the same test card: the same fingerprint
    sub = subscribe(user=second, price=price("pro", "month"), now=T0 + timedelta(hours=1))

    # The second trial ends at once and the first invoice is paid now.
    assert sub.status == SubscriptionStatus.ACTIVE
    assert sub.current_period_start == T0 + timedelta(hours=1)
    assert Invoice.objects.get(user=second).status == InvoiceStatus.PAID


def test_trial_warning_three_days_before_the_end_once(customer, catalog, mailoutbox):
    sub = trial_start(user=customer, plan=catalog["pro"], now=T0)
    warning_at = sub.trial_ends_at - timedelta(days=3)

    run(warning_at - timedelta(seconds=1))
    assert len(mailoutbox) == 1  # only the welcome
    run(warning_at)
    run(warning_at + timedelta(hours=1))
    assert len(mailoutbox) == 2
    assert AuditEvent.objects.filter(kind="trial_warning_sent").count() == 1


def test_trial_without_a_plan_expires_then_its_data_is_deleted_after_the_grace(
    customer, catalog, mailoutbox
):
    sub = trial_start(user=customer, plan=catalog["pro"], now=T0)
    end = sub.trial_ends_at

    run(end - timedelta(seconds=1))
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.TRIALING
    run(end)
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.EXPIRED
    assert sub.purge_at == end + timedelta(days=7)
    assert not entitlements.has_feature(customer, "core")
    expired_mail = mailoutbox[-1]
    assert customer.email in expired_mail.to

    run(end + timedelta(days=7) - timedelta(seconds=1))
    assert Subscription.objects.filter(pk=sub.pk).exists()
    result = run(end + timedelta(days=7))
    assert result["purged"] == 1
    assert not type(customer).objects.filter(pk=customer.pk).exists()
    assert TrialClaim.objects.count() == 1  # a hash only: the trial cannot be taken again


def test_subscribing_during_the_trial_bills_at_its_end_and_keeps_the_trial(
    customer, catalog, add_card, mailoutbox
):
    sub = trial_start(user=customer, plan=catalog["pro"], now=T0)
    add_card(customer)
    quote = checkout_quote(user=customer, price=price("pro", "month"), now=T0)
    assert (quote.total, quote.first_charge_at, quote.charged_now) == (
        5880,
        sub.trial_ends_at,
        False,
    )

    sub = subscribe(user=customer, price=price("pro", "month"), now=T0)
    assert sub.status == SubscriptionStatus.TRIALING
    assert not Invoice.objects.exists()

    run(sub.trial_ends_at)
    sub.refresh_from_db()
    invoice = Invoice.objects.get()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert (invoice.total, invoice.status) == (5880, InvoiceStatus.PAID)
    assert invoice.period_start == quote.first_charge_at
    assert sub.current_period_end == quote.renews_at
    assert sub.first_paid_at == sub.trial_ends_at
    assert entitlements.has_feature(customer, "sms_reminders")
    assert invoice.number in mailoutbox[-1].body


# --- subscribing and renewals -----------------------------------------------------------------


def test_subscribing_without_a_trial_charges_at_once(customer, catalog, add_card, stripe_server):
    import stripe

    add_card(customer)
    with time_machine.travel(T0, tick=False):
        sub = subscribe(user=customer, price=price("premium", "year"), now=T0)

    invoice = Invoice.objects.get()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert invoice.number == "2026-000001"
    assert (invoice.subtotal, invoice.tax, invoice.total) == (79000, 15800, 94800)
    assert (invoice.period_start, invoice.period_end) == (
        T0,
        datetime(2027, 1, 31, 9, 30, tzinfo=UTC),
    )
    assert sub.next_billing_at == datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    # What the card was charged is exactly the invoice total.
    intent = stripe.PaymentIntent.retrieve(invoice.stripe_payment_intent_id)
    assert (intent.amount, intent.currency, intent.status) == (94800, "eur", "succeeded")


def test_a_declined_first_payment_says_why_and_leaves_no_paid_subscription(
    customer, catalog, add_card
):
    add_card(customer, "pm_card_chargeCustomerFail")
    with pytest.raises(SubscriptionError, match="declined"):
        subscribe(user=customer, price=price("pro", "month"), now=T0)
    sub = Subscription.objects.get()
    assert sub.status == SubscriptionStatus.INCOMPLETE
    assert not entitlements.has_feature(customer, "core")

    # With a working card the same invoice is paid: nothing is billed twice.
    add_card(customer)
    subscribe(user=customer, price=price("pro", "month"), now=T0 + timedelta(minutes=5))
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert Invoice.objects.filter(status=InvoiceStatus.PAID).count() == 1
    assert Invoice.objects.get().attempts.count() == 2


def test_a_year_of_monthly_renewals_on_the_31st_same_day_each_month(
    customer, catalog, add_card, mailoutbox
):
    add_card(customer)
    with time_machine.travel(T0, tick=False):
        sub = subscribe(user=customer, price=price("pro", "month"), now=T0)
    for _ in range(12):
        sub.refresh_from_db()
        run(sub.next_billing_at)
        run(sub.next_billing_at)  # the task running twice bills nothing more

    invoices = list(Invoice.objects.order_by("issued_at"))
    assert len(invoices) == 13
    assert [i.number for i in invoices] == [f"2026-{n:06d}" for n in range(1, 13)] + ["2027-000001"]
    assert all(i.status == InvoiceStatus.PAID and i.total == 5880 for i in invoices)
    # Calendar months from the anchor, clamped: 31 Jan, 28 Feb, 31 Mar, 30 Apr...
    starts = [i.period_start.date().isoformat() for i in invoices[:4]]
    assert starts == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
    assert PaymentAttempt.objects.count() == 13
    # A receipt after each charge, naming its invoice.
    for invoice in invoices:
        assert any(invoice.number in m.body for m in mailoutbox), invoice.number


def test_renewal_reminders_7_days_before_a_yearly_and_3_before_a_monthly(
    catalog, add_card, mailoutbox
):
    yearly, monthly = UserFactory(), UserFactory()
    add_card(yearly)
    add_card(monthly)
    a = subscribe(user=yearly, price=price("pro", "year"), now=T0)
    b = subscribe(user=monthly, price=price("pro", "month"), now=T0)

    run(b.next_billing_at - timedelta(days=3, seconds=1))
    assert AuditEvent.objects.filter(kind="renewal_reminder_sent").count() == 0
    run(b.next_billing_at - timedelta(days=3))
    run(b.next_billing_at - timedelta(days=2))
    assert AuditEvent.objects.filter(kind="renewal_reminder_sent", user=monthly).count() == 1
    monthly_reminder = [m for m in mailoutbox if monthly.email in m.to][-1]
    assert "58,80" in monthly_reminder.body or "58.80" in monthly_reminder.body

    Subscription.objects.filter(pk=b.pk).update(status=SubscriptionStatus.CANCELED)
    run(a.next_billing_at - timedelta(days=7, seconds=1))
    assert AuditEvent.objects.filter(kind="renewal_reminder_sent", user=yearly).count() == 0
    run(a.next_billing_at - timedelta(days=7))
    assert AuditEvent.objects.filter(kind="renewal_reminder_sent", user=yearly).count() == 1
    reminder = [m for m in mailoutbox if yearly.email in m.to][-1]
    assert "588,00" in reminder.body or "588.00" in reminder.body


@pytest.mark.parametrize(
    ("credit", "free_months", "says"),
    [
        (
            2000,
            0,
            "€38.80 will be charged to your card ending in 4242. "
            "Your credit settles €20.00 of the €58.80 invoice.",
        ),
        (9000, 0, "Nothing will be charged to your card: your credit settles the €58.80 invoice."),
        (0, 1, "Nothing will be charged: this period is free."),
    ],
    ids=["credit_in_part", "credit_in_full", "free_month"],
)
def test_the_reminder_states_what_the_renewal_then_takes_from_the_card(
    customer, catalog, add_card, mailoutbox, credit, free_months, says
):
    """002/004: the amount before the renewal is the one charged, credit and free months
    counted as the renewal counts them."""
    customer.language = "en"
    customer.save(update_fields=["language"])
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=T0)
    Subscription.objects.filter(pk=sub.pk).update(credit=credit, free_months=free_months)
    due = sub.next_billing_at
    run(due - timedelta(days=3))
    reminder = [m for m in mailoutbox if "renews" in m.subject][-1]
    assert says in " ".join(reminder.body.split())
    before = card_charges(customer)
    run(due)
    renewal = Invoice.objects.get(subscription=sub, kind=InvoiceKind.RENEWAL)
    assert renewal.status == InvoiceStatus.PAID
    taken = list((Counter(card_charges(customer)) - Counter(before)).elements())
    by_card = renewal.total - renewal.credit_applied
    assert taken == ([by_card] if by_card else [])
    assert by_card == {2000: 3880, 9000: 0}.get(credit, 0)


# --- failed payments (004) -------------------------------------------------------------------


def test_failed_renewal_retries_days_1_3_7_then_suspends_then_pay_now_reactivates(
    customer, catalog, add_card, mailoutbox
):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=T0)
    add_card(customer, "pm_card_chargeCustomerFail")  # the card now declines
    due = sub.next_billing_at

    run(due)
    sub.refresh_from_db()
    invoice = Invoice.objects.get(kind="renewal")
    assert sub.status == SubscriptionStatus.PAST_DUE
    assert entitlements.has_feature(customer, "sms_reminders")  # still served during retries
    assert invoice.next_retry_at == due + timedelta(days=1)
    failures = len([m for m in mailoutbox if "/pay/" in m.body])
    assert failures == 1

    for day, status in [(1, "past_due"), (3, "past_due"), (7, "suspended")]:
        run(due + timedelta(days=day) - timedelta(seconds=1))
        assert invoice.attempts.count() == {1: 1, 3: 2, 7: 3}[day]
        run(due + timedelta(days=day))
        sub.refresh_from_db()
        assert sub.status == status
    invoice.refresh_from_db()
    assert invoice.attempts.count() == 4
    assert invoice.next_retry_at is None
    assert len([m for m in mailoutbox if "/pay/" in m.body]) == 4
    # Suspended: product features off.
    assert not entitlements.has_feature(customer, "core")

    # The customer updates the card and pays: reactivated at once, with a receipt.
    add_card(customer)
    attempt = invoice_pay_now(user=customer, invoice=invoice, now=due + timedelta(days=8))
    sub.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert sub.status == SubscriptionStatus.ACTIVE
    assert entitlements.has_feature(customer, "core")
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_stripe_unreachable_is_not_a_decline_no_email_and_retried_within_the_hour(
    customer, catalog, add_card, mailoutbox, settings
):
    import stripe

    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=T0)
    sent = len(mailoutbox)
    base = stripe.api_base
    stripe.api_base = "http://127.0.0.1:9"  # nothing listens there
    try:
        run(sub.next_billing_at)
    finally:
        stripe.api_base = base
    invoice = Invoice.objects.get(kind="renewal")
    sub.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.attempts.get().failure_code == "unavailable"
    assert invoice.next_retry_at == sub.current_period_start + timedelta(hours=1)
    assert sub.status == SubscriptionStatus.ACTIVE
    assert len(mailoutbox) == sent

    run(invoice.next_retry_at)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_two_charges_of_the_same_invoice_at_once_make_one_payment(customer, catalog, add_card):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=T0)
    run(sub.next_billing_at)
    invoice = Invoice.objects.get(kind="renewal")
    # A late duplicate (second worker, double click) finds the invoice paid: no new attempt.
    again = invoice_charge(invoice=invoice, trigger="retry", now=sub.next_billing_at)
    assert again.status == AttemptStatus.SUCCEEDED
    assert invoice.attempts.count() == 1


def test_invoice_numbers_have_no_gaps_across_customers_and_years(catalog, add_card):
    users = [UserFactory() for _ in range(3)]
    for user in users:
        add_card(user)
    subscribe(user=users[0], price=price("pro", "month"), now=T0)
    subscribe(user=users[1], price=price("pro", "month"), now=T0)
    late = datetime(2027, 1, 2, tzinfo=UTC)
    with time_machine.travel(late, tick=False):
        subscribe(user=users[2], price=price("pro", "month"), now=late)
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        "2026-000001",
        "2026-000002",
        "2027-000001",
    ]


# --- switching offer (003) ----------------------------------------------------------------------


def test_staff_grant_up_to_three_free_months_taken_off_the_next_invoices(
    customer, catalog, add_card
):
    staff = UserFactory(is_staff=True)
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=T0)
    switching_offer_grant(subscription=sub, months=2, actor=staff, now=T0)
    with pytest.raises(SubscriptionError, match="at most 3 free months"):
        switching_offer_grant(subscription=sub, months=2, actor=staff, now=T0)
    switching_offer_grant(subscription=sub, months=1, actor=staff, now=T0)

    for _ in range(4):
        sub.refresh_from_db()
        run(sub.next_billing_at)
    renewals = list(Invoice.objects.filter(kind="renewal").order_by("issued_at"))
    assert [i.total for i in renewals] == [0, 0, 0, 5880]
    assert all(i.status == InvoiceStatus.PAID for i in renewals)
    assert PaymentAttempt.objects.filter(invoice__in=renewals[:3], amount=0).count() == 3
    assert "Free months (switching offer)" in renewals[0].lines.last().description
    assert AuditEvent.objects.filter(kind="switching_offer_granted", actor=staff).count() == 2


def test_on_a_yearly_plan_free_months_are_twelfths_of_the_year(customer, catalog, add_card):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "year"), now=T0)
    switching_offer_grant(subscription=sub, months=3, actor=UserFactory(is_staff=True), now=T0)
    run(sub.next_billing_at)
    renewal = Invoice.objects.get(kind="renewal")
    assert renewal.total == 58800 - 58800 * 3 // 12
    assert renewal.subtotal + renewal.tax == renewal.total


def test_a_renewal_without_a_card_is_a_failed_payment_and_does_not_stop_the_run(
    catalog, add_card, mailoutbox
):
    first, second = UserFactory(), UserFactory()
    for user in (first, second):
        add_card(user)
        subscribe(user=user, price=price("pro", "month"), now=T0)
    first.billing.payment_method_id = ""  # the card is gone
    first.billing.save()
    due = Subscription.objects.get(user=first).next_billing_at

    result = run(due)

    assert result["errors"] == 0
    assert result["renewed"] == 2
    failed = Invoice.objects.get(user=first, kind="renewal")
    assert failed.status == InvoiceStatus.OPEN
    assert failed.attempts.get().failure_code == "no_card"
    assert failed.next_retry_at == due + timedelta(days=1)
    assert Subscription.objects.get(user=first).status == SubscriptionStatus.PAST_DUE
    assert Invoice.objects.get(user=second, kind="renewal").status == InvoiceStatus.PAID
    assert any(
        f"/invoices/{failed.number}/pay/" in m.body for m in mailoutbox if first.email in m.to
    )


def test_one_failing_item_is_logged_and_the_others_still_run(
    catalog, add_card, monkeypatch, caplog
):
    users = [UserFactory(), UserFactory()]
    for user in users:
        add_card(user)
        subscribe(user=user, price=price("pro", "month"), now=T0)
    broken = Subscription.objects.get(user=users[0]).pk
    original = subscription_renew

    def renew(*, subscription, now):
        if subscription.pk == broken:
            raise RuntimeError("boom")
        return original(subscription=subscription, now=now)

    monkeypatch.setattr(billing, "subscription_renew", renew)
    result = run(Subscription.objects.get(pk=broken).next_billing_at)
    assert (result["errors"], result["renewed"]) == (1, 1)
    assert "renewed failed for Subscription" in caplog.text
