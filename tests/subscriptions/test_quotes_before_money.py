"""Quotes before money (issue 14): no charge unless the page the customer (or staff) confirmed
showed that amount and date; a scheduled downgrade survives a cancellation that is undone;
contract changes are priced before they are asked and decided."""

from datetime import timedelta

import pytest
import stripe
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from subscriptions.models import (
    AuditEvent,
    ChangeRequestStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Price,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.money import format_money
from subscriptions.policy import ShownCharge
from subscriptions.services.billing import billing_run
from subscriptions.services.cancellation import cancellation_confirm, cancellation_undo
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import (
    change_request_create,
    change_request_decide,
    change_request_quote,
)
from subscriptions.services.errors import QuoteChanged
from subscriptions.services.payments import invoice_pay_now
from subscriptions.services.plan_changes import plan_change, quote_token
from subscriptions.services.trials import trial_start
from tests.conftest import shown_charge, staff_login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def price(code, interval, currency="EUR"):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency=currency
    )


def verified_user():
    user = UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def stripe_charges(user):
    charges = stripe.Charge.list(customer=user.billing.stripe_customer_id)
    return [(c.amount, c.currency) for c in charges if c.status == "succeeded"]


def confirmed_setup_intent(user, payment_method="pm_card_visa"):
    from subscriptions.services.cards import card_setup_start

    client_secret = card_setup_start(user=user)
    setup_intent_id = client_secret.split("_secret_")[0]
    stripe.SetupIntent.confirm(setup_intent_id, payment_method=payment_method)
    return setup_intent_id


# --- finding 1: a trial forfeited by a reused card ------------------------------------------


def test_a_card_that_served_another_trial_stops_the_page_with_the_new_quote(
    client, catalog, add_card, stripe_server, ticked_terms
):
    first = verified_user()
    now = timezone.now()
    trial_start(user=first, plan=catalog["pro"], now=now)
    add_card(first)  # pm_card_visa: the same card fingerprint for everyone
    subscribe(user=first, price=price("pro", "month"), now=now)

    second = verified_user()
    trial = trial_start(user=second, plan=catalog["pro"], now=now)
    client.force_login(second)
    url = f"/en/account/subscribe/{price('pro', 'month').pk}/"
    page = client.get(url).content.decode()
    assert "(when your trial ends)" in page
    assert "Confirm my plan: €58.80 on" in page

    stopped = client.post(
        url,
        {
            "setup_intent": confirmed_setup_intent(second),
            "charge": shown_charge(page),
            **ticked_terms.data,
        },
    )

    html = stopped.content.decode()
    assert stopped.status_code == 409
    assert "This card has already been used for a free trial" in html
    assert "Nothing was charged" in html
    assert "Pay €58.80 and subscribe" in html  # the new quote: charged today
    assert "your trial ends today" in html
    trial.refresh_from_db()
    assert trial.status == SubscriptionStatus.TRIALING
    assert trial.trial_ends_at > timezone.now()
    assert not Invoice.objects.filter(user=second).exists()
    assert stripe_charges(second) == []

    paid = client.post(url, {"charge": shown_charge(html), **ticked_terms.data}, follow=True)

    assert "Thank you: your subscription is active." in paid.content.decode()
    assert stripe_charges(second) == [(5880, "eur")]
    assert Invoice.objects.get(user=second).total == 5880


def test_subscribing_without_the_confirmed_amount_charges_nothing(
    customer_client, customer, catalog, add_card, stripe_server, ticked_terms
):
    add_card(customer)
    url = f"/en/account/subscribe/{price('pro', 'month').pk}/"
    response = customer_client.post(url, {"charge": "forged", **ticked_terms.data})
    assert response.status_code == 409
    assert "Please check the amount below and confirm it." in response.content.decode()
    assert "Pay €58.80 and subscribe" in response.content.decode()
    assert not Subscription.objects.filter(user=customer).exists()
    assert stripe_charges(customer) == []


# --- the one rule, flow by flow ----------------------------------------------------------------


def test_each_flow_refuses_a_charge_other_than_the_one_shown(
    customer, catalog, add_card, stripe_server, reviewer
):
    add_card(customer)
    now = timezone.now()
    with pytest.raises(QuoteChanged):
        subscribe(
            user=customer, price=price("pro", "month"), now=now, shown=ShownCharge(4900, "EUR")
        )
    assert not Invoice.objects.filter(user=customer).exists()  # the number is given back
    sub = subscribe(
        user=customer, price=price("pro", "month"), now=now, shown=ShownCharge(5880, "EUR")
    )

    # An upgrade whose page said another amount.
    target = price("premium", "month")
    forged = quote_token(subscription=sub, target=target, quoted_at=now, amount=100)
    with pytest.raises(QuoteChanged):
        plan_change(user=customer, subscription=sub, target=target, token=forged, now=now)
    assert not Invoice.objects.filter(kind=InvoiceKind.PRORATION).exists()

    # An open invoice paid for another amount than its own.
    add_card(customer, "pm_card_chargeCustomerFail")
    billing_run(now=sub.current_period_end)
    renewal = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    attempts = renewal.attempts.count()
    with pytest.raises(QuoteChanged):
        invoice_pay_now(
            user=customer, invoice=renewal, now=sub.current_period_end, shown=ShownCharge(1, "EUR")
        )
    assert renewal.attempts.count() == attempts
    assert stripe_charges(customer) == [(5880, "eur")]


def test_keeping_a_subscription_charges_only_the_amount_the_button_showed(
    customer, catalog, add_card, stripe_server
):
    add_card(customer)
    now = timezone.now()
    sub = subscribe(user=customer, price=price("premium", "year"), now=now)
    at = now + timedelta(days=20)  # after the guarantee: the months left are refunded
    sub, refunded = cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    owed = sum(r.amount for r in refunded)
    assert owed > 0
    with pytest.raises(QuoteChanged):
        cancellation_undo(
            user=customer, subscription=sub, now=at, shown=ShownCharge(owed - 1, "EUR")
        )
    sub.refresh_from_db()
    assert sub.cancel_at is not None
    cancellation_undo(user=customer, subscription=sub, now=at, shown=ShownCharge(owed, "EUR"))
    sub.refresh_from_db()
    assert sub.cancel_at is None
    assert Invoice.objects.get(kind=InvoiceKind.PRORATION).total == owed


# --- finding 2: undoing a cancellation restores the scheduled downgrade ------------------------


def test_undoing_a_cancellation_keeps_the_scheduled_downgrade_and_renews_on_it(
    customer_client, customer, catalog, add_card, stripe_server, mailoutbox
):
    customer.language = "en"
    customer.save(update_fields=["language"])
    add_card(customer)
    now = timezone.now()
    sub = subscribe(user=customer, price=price("premium", "month"), now=now)
    pro = price("pro", "month")
    page = customer_client.get(f"/en/account/subscription/change/{pro.pk}/").content.decode()
    token = page.split('name="quote" value="')[1].split('"')[0]
    customer_client.post(f"/en/account/subscription/change/{pro.pk}/", {"quote": token})
    sub.refresh_from_db()
    assert sub.scheduled_price == pro

    customer_client.post("/en/account/cancel/confirm/", {"reason": ""})
    detail = customer_client.get("/en/account/subscription/").content.decode()
    assert "is on hold: it takes place only if you keep your subscription" in detail
    customer_client.post("/en/account/cancel/undo/", {"charge": shown_charge(detail)})

    sub.refresh_from_db()
    assert sub.cancel_at is None
    assert sub.scheduled_price == pro
    assert sub.next_billing_at == sub.current_period_end
    undone = mailoutbox[-1]
    assert "Your change to Pro is still scheduled" in undone.body
    assert "€58.80 will be charged" in undone.body
    assert (
        "Change to Pro scheduled for"
        in customer_client.get("/en/account/subscription/").content.decode()
    )

    billing_run(now=sub.current_period_end)
    renewal = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    assert (renewal.total, renewal.status) == (5880, InvoiceStatus.PAID)
    sub.refresh_from_db()
    assert sub.plan.code == "pro"


# --- finding 3: contract changes priced up front -----------------------------------------------


def test_the_request_form_prices_each_target_and_the_decision_states_it(
    customer_client, customer, catalog, add_card, stripe_server, mailoutbox, admin_user
):
    customer.language = "en"
    customer.save(update_fields=["language"])
    add_card(customer)
    now = timezone.now()
    sub = subscribe(user=customer, price=price("starter", "year"), now=now)

    form = customer_client.get("/en/account/subscription/change-request/").content.decode()
    assert "If we approve today" in form
    assert "€240.00" in form  # Starter -> Pro yearly, same interval: the difference
    assert "€289.20, taken off your next invoices" in form  # Starter -> Pro monthly
    assert "12 months, until" in form  # Standard keeps a commitment

    change = change_request_create(
        user=customer,
        subscription=sub,
        target=price("pro", "month"),
        reason="SMS",
        message="",
        now=now,
    )
    filed = AuditEvent.objects.get(kind="change_request_filed")
    assert filed.data["credit_if_approved_now"] == 28920

    staff = staff_login(Client(), admin_user)
    url = f"/en/admin/subscriptions/contractchangerequest/{change.pk}/change/"
    decision = staff.get(url).content.decode()
    staff.post(url, {"decision": "approve", "written_reason": "", "charge": shown_charge(decision)})

    change.refresh_from_db()
    sub.refresh_from_db()
    assert change.status == ChangeRequestStatus.APPROVED
    assert sub.plan.code == "pro"
    assert 28900 <= sub.credit <= 28920  # re-computed at the decision, seconds later
    credit_before = sub.credit
    decided = next(m for m in mailoutbox if "approved your move to Pro" in m.body)
    assert "Nothing was charged for the change." in decided.body
    assert "is credited to your subscription" in decided.body
    changed = next(m for m in mailoutbox if "Your plan has changed from Starter to Pro" in m.body)
    assert "Nothing was charged for the change." in changed.body
    assert stripe_charges(customer) == [(34800, "eur")]

    detail = customer_client.get("/en/account/subscription/").content.decode()
    assert "Your credit: €" in detail
    assert "taken off your next invoices before your card is charged" in detail

    billing_run(now=sub.current_period_end)
    renewal = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    # The credit pays the month before the card, as a prepayment: the invoice keeps its
    # full VAT (the credit note already gave the credited VAT back).
    assert (renewal.subtotal, renewal.tax, renewal.total) == (4900, 980, 5880)
    assert (renewal.credit_applied, renewal.amount_due) == (5880, 0)
    assert renewal.status == InvoiceStatus.PAID
    assert stripe_charges(customer) == [(34800, "eur")]
    sub.refresh_from_db()
    assert sub.credit == credit_before - 5880


def test_staff_approval_refuses_a_charge_the_decision_page_did_not_show(
    customer, catalog, add_card, stripe_server, reviewer
):
    add_card(customer)
    now = timezone.now()
    sub = subscribe(user=customer, price=price("starter", "year"), now=now)
    change = change_request_create(
        user=customer, subscription=sub, target=price("pro", "year"), reason="SMS", message=""
    )
    shown_then = change_request_quote(change=change, now=now)
    later = now + timedelta(days=30)
    with pytest.raises(QuoteChanged):
        change_request_decide(
            change=change,
            actor=reviewer,
            approve=True,
            reason="",
            now=later,
            shown=ShownCharge(shown_then.amount_due, "EUR"),
        )
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.PENDING
    assert not Invoice.objects.filter(kind=InvoiceKind.PRORATION).exists()
    at_decision = change_request_quote(change=change, now=later)
    assert at_decision.amount_due < shown_then.amount_due
    change_request_decide(
        change=change,
        actor=reviewer,
        approve=True,
        reason="",
        now=later,
        shown=ShownCharge(at_decision.amount_due, "EUR"),
    )
    assert Invoice.objects.get(kind=InvoiceKind.PRORATION).total == at_decision.amount_due


# --- finding 6: refund sentences that add up -----------------------------------------------------


def test_the_guarantee_sentence_says_what_was_paid_and_that_the_vat_is_kept(
    customer_client, customer, catalog, add_card, stripe_server
):
    add_card(customer)
    subscribe(user=customer, price=price("premium", "month"), now=timezone.now())
    html = customer_client.post("/fr/account/cancel/", {"reason": ""}).content.decode()
    assert (
        "Vous avez payé 94,80\xa0€ : 79,00\xa0€ vous sont remboursés et 15,80\xa0€ restent "
        "acquis au titre de la TVA, non remboursable."
    ) in html


def test_one_guarantee_refund_across_two_payments_is_one_email_with_the_total(
    customer_client, customer, catalog, add_card, stripe_server, mailoutbox
):
    add_card(customer)
    now = timezone.now()
    sub = subscribe(user=customer, price=price("pro", "month"), now=now)
    target = price("premium", "month")
    token = quote_token(subscription=sub, target=target, quoted_at=now)
    plan_change(user=customer, subscription=sub, target=target, token=token, now=now)
    first, upgrade = Invoice.objects.filter(user=customer).order_by("pk")
    assert upgrade.kind == InvoiceKind.PRORATION

    page = customer_client.get(f"/fr/account/invoices/{first.number}/refund/").content.decode()
    paid = first.total + upgrade.total
    refunded = first.total - first.tax + upgrade.total - upgrade.tax
    sentence = (
        f"Vous avez payé {format_money(paid, 'EUR', 'fr')} : "
        f"{format_money(refunded, 'EUR', 'fr')} vous sont remboursés et "
        f"{format_money(paid - refunded, 'EUR', 'fr')} restent acquis au titre de la TVA"
    )
    assert sentence in page
    token = page.split('name="quote" value="')[1].split('"')[0]
    before = len(mailoutbox)
    done = customer_client.post(
        f"/fr/account/invoices/{first.number}/refund/",
        {"quote": token, "reason": "changed_mind", "details": ""},
    ).content.decode()
    assert sentence in done

    refunds = [m for m in mailoutbox[before:] if "rembours" in m.subject.lower()]
    assert len(refunds) == 1
    body = refunds[0].body
    assert f"Nous vous avons remboursé {format_money(refunded, 'EUR', 'fr')} au total" in body
    assert f"facture {first.number} : {format_money(first.total - first.tax, 'EUR', 'fr')}" in body
    assert upgrade.number in body
    assert sentence in body
    assert sorted(a for a, _c in stripe_refunds(customer)) == sorted(
        [first.total - first.tax, upgrade.total - upgrade.tax]
    )


def stripe_refunds(user):
    charges = stripe.Charge.list(customer=user.billing.stripe_customer_id)
    return [(c.amount_refunded, c.currency) for c in charges if c.amount_refunded]
