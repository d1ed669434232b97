"""Issue 17: the subscription page states the next charge (date, amount with tax, currency,
card), counting a scheduled change, free months and credit; none when cancelled; the first
charge of a trial. What it states is what the renewal or the trial's end then charges."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from subscriptions.models import Invoice, InvoiceKind, Subscription
from subscriptions.money import format_money
from subscriptions.selectors import billing_account, next_charge
from subscriptions.services.billing import billing_run
from subscriptions.services.cancellation import cancellation_confirm
from subscriptions.services.checkout import subscribe
from subscriptions.services.trials import trial_start
from tests.subscriptions.test_changes import change, price

pytestmark = pytest.mark.django_db(transaction=True)

# 09:30 UTC: the same calendar day in the customer's time zone, whichever it is.
T0 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def active(customer, add_card, code="pro", interval="month"):
    add_card(customer)
    return subscribe(user=customer, price=price(code, interval), now=T0)


def scheduled_change(customer, add_card):
    sub = active(customer, add_card, "premium")
    return change(customer, sub, price("pro", "month"), T0 + timedelta(days=5))


def free_months(customer, add_card):
    sub = active(customer, add_card, "premium", "year")
    Subscription.objects.filter(pk=sub.pk).update(free_months=2)
    return sub


def some_credit(customer, add_card):
    sub = active(customer, add_card)
    Subscription.objects.filter(pk=sub.pk).update(credit=1000)
    return sub


def credit_covers_it(customer, add_card):
    sub = active(customer, add_card)
    Subscription.objects.filter(pk=sub.pk).update(credit=10000)
    return sub


def cancelled(customer, add_card):
    sub = active(customer, add_card)
    sub, _refunds = cancellation_confirm(
        user=customer, subscription=sub, reason="", now=T0 + timedelta(days=3)
    )
    return sub


def trial_with_a_plan(customer, add_card):
    trial_start(user=customer, plan=price("pro", "month").plan, now=T0)
    add_card(customer)
    return subscribe(user=customer, price=price("pro", "month"), now=T0 + timedelta(days=1))


STATES = {
    "active": (
        active,
        ["February 28, 2026", "Pro", "€58.80 incl. VAT (EUR)", "€58.80 – Visa ending in 4242"],
        [
            "28 février 2026",
            "Pro",
            "58,80\xa0€ TTC (EUR)",
            "58,80\xa0€ – Visa se terminant par 4242",
        ],
    ),
    "scheduled_change": (
        scheduled_change,
        ["February 28, 2026", "Pro (your scheduled change)", "€58.80 incl. VAT"],
        ["28 février 2026", "Pro (votre changement prévu)", "58,80\xa0€ TTC"],
    ),
    "free_months": (
        free_months,
        ["January 31, 2027", "Premium", "€790.00 incl. VAT", "€790.00 – Visa ending in 4242"],
        ["31 janvier 2027", "Premium", "790,00\xa0€ TTC", "790,00\xa0€ – Visa se terminant par"],
    ),
    "some_credit": (
        some_credit,
        ["€58.80 incl. VAT", "From your credit", "€10.00", "€48.80 – Visa ending in 4242"],
        ["58,80\xa0€ TTC", "Pris sur votre crédit", "10,00\xa0€", "48,80\xa0€ – Visa se terminant"],
    ),
    "credit_covers_it": (
        credit_covers_it,
        ["€58.80 incl. VAT", "nothing: your credit covers it."],
        ["58,80\xa0€ TTC", "rien : votre crédit le couvre."],
    ),
    "cancelled": (
        cancelled,
        ["No next charge: you cancelled, and your access ends on February 28, 2026."],
        [
            "Aucun prochain prélèvement : vous avez résilié, votre accès prend fin le"
            " 28 février 2026."
        ],
    ),
    "trial_with_a_plan": (
        trial_with_a_plan,
        ["February 15, 2026 (when your trial ends)", "€58.80 incl. VAT", "Visa ending in 4242"],
        ["15 février 2026 (à la fin de votre essai)", "58,80\xa0€ TTC", "Visa se terminant par"],
    ),
}


def section(html):
    found = re.search(r'<section class="card" id="next-charge".*?</section>', html, re.S)
    assert found, "the page shows no next charge"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))).replace(" )", ")")


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_subscription_page_states_the_next_charge(
    client, customer, catalog, add_card, state, language
):
    make, english, french = STATES[state]
    make(customer, add_card)
    client.force_login(customer)
    text = section(client.get(f"/{language}/account/subscription/").content.decode())
    for expected in english if language == "en" else french:
        assert re.sub(r"\s+", " ", expected) in text, text
    heading = "Next charge" if language == "en" else "Prochain prélèvement"
    assert heading in text


@pytest.mark.parametrize(
    "state", ["active", "scheduled_change", "free_months", "some_credit", "trial_with_a_plan"]
)
def test_what_the_page_states_is_what_the_renewal_charges(
    client, customer, catalog, add_card, state
):
    make = STATES[state][0]
    sub = make(customer, add_card)
    sub.refresh_from_db()
    shown = next_charge(sub, billing=billing_account(user=sub.user))
    client.force_login(customer)
    text = section(client.get("/en/account/subscription/").content.decode())
    assert f"{format_money(shown.total, shown.currency, 'en')} incl. VAT" in text
    assert f"{format_money(shown.by_card, shown.currency, 'en')} – Visa" in text
    before = set(Invoice.objects.values_list("pk", flat=True))

    billing_run(now=shown.at + timedelta(minutes=1))

    [invoice] = Invoice.objects.exclude(pk__in=before)
    assert invoice.kind in (InvoiceKind.RENEWAL, InvoiceKind.FIRST)
    assert invoice.period_start == shown.at
    assert (invoice.total, invoice.credit_applied, invoice.amount_due, invoice.currency) == (
        shown.total,
        shown.from_credit,
        shown.by_card,
        shown.currency,
    )
    assert invoice.price.plan == shown.plan
    intent = stripe.PaymentIntent.retrieve(invoice.stripe_payment_intent_id)
    assert intent.amount == shown.by_card


def test_nothing_is_stated_without_a_subscription_or_after_it_ended(
    customer_client, customer, catalog
):
    assert next_charge(None, billing=None) is None
    html = customer_client.get("/en/account/subscription/").content.decode()
    assert 'id="next-charge"' not in html
