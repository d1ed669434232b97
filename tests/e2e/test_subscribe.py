from urllib.parse import urlsplit

import pytest
import stripe
from playwright.sync_api import expect

from subscriptions.models import Invoice, InvoiceStatus, Subscription, SubscriptionStatus

WORDS = {
    "en": {
        "subscription": "Subscription",
        "price": "Pro – €49.00 per month excl. VAT",
        "heading": "Subscribe to Pro",
        "commitment": "No commitment: cancel at any time",
        "pay": "Pay €58.80 and subscribe",
        "thanks": "Thank you: your subscription is active.",
        "card": "Visa ending in 4242, expires",
        "next": "€58.80 – Visa ending in 4242",
        "invoices": "Invoices",
        "total": "€58.80",
    },
    "fr": {
        "subscription": "Abonnement",
        "price": "Pro – 49,00\xa0€ par mois HT",
        "heading": "S’abonner à Pro",
        "commitment": "Sans engagement : résiliable à tout moment",
        "pay": "Payer 58,80\xa0€ et s’abonner",
        "thanks": "Merci : votre abonnement est actif.",
        "card": "Visa se terminant par 4242, expire en",
        "next": "58,80\xa0€ – Visa se terminant par 4242",
        "invoices": "Factures",
        "total": "58,80\xa0€",
    },
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_customer_subscribes_with_a_card_and_is_charged_what_was_shown(
    page,
    settle,
    login,
    fill_card,
    customer,
    catalog,
    stripe_server,
    transactional_db,
    ticked_terms,
    language,
):
    words = WORDS[language]
    customer.language = language
    customer.save()
    login(customer, language=language)
    page.get_by_role("link", name=words["subscription"], exact=True).click()
    settle()
    page.get_by_role("link", name=words["price"]).click()
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["heading"])
    expect(page.get_by_text(words["commitment"])).to_be_visible()
    pay = page.get_by_role("button", name=words["pay"])
    expect(pay).to_be_visible()

    fill_card()
    ticked_terms.tick(page)
    pay.click()
    page.wait_for_url("**/account/subscription/")
    settle()

    expect(page.get_by_text(words["thanks"])).to_be_visible()
    expect(page.get_by_text(words["card"])).to_be_visible()
    expect(page.locator("#next-charge")).to_contain_text(words["next"])
    subscription = Subscription.objects.get(user=customer)
    assert subscription.status == SubscriptionStatus.ACTIVE
    invoice = Invoice.objects.get(user=customer)
    assert invoice.status == InvoiceStatus.PAID
    assert stripe.PaymentIntent.retrieve(invoice.stripe_payment_intent_id).amount == 5880

    page.get_by_role("link", name=words["invoices"]).click()
    settle()
    expect(page.get_by_role("cell", name=words["total"])).to_be_visible()


def test_a_declined_card_is_explained_and_another_card_works(
    page, settle, login, fill_card, customer, catalog, stripe_server, transactional_db, ticked_terms
):
    login(customer)
    page.goto("/en/account/subscription/")
    settle()
    page.get_by_role("link", name="Premium – €79.00 per month excl. VAT").click()
    settle()
    fill_card(number="4000000000000341")  # accepted at entry, declined at charge
    ticked_terms.tick(page)
    page.get_by_role("button", name="Pay €94.80 and subscribe").click()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined")
    settle()

    fill_card()
    ticked_terms.tick(page)
    page.get_by_role("button", name="Pay €94.80 and subscribe").click()
    page.wait_for_url("**/account/subscription/")
    settle()
    expect(page.get_by_text("Thank you: your subscription is active.")).to_be_visible()
    assert Invoice.objects.get(user=customer).status == InvoiceStatus.PAID


def test_a_renewal_the_bank_must_confirm_is_paid_from_the_link_in_the_email(
    page, settle, login, customer, catalog, add_card, stripe_server, transactional_db, mailoutbox
):
    from django.utils import timezone

    from subscriptions.models import Price
    from subscriptions.services.billing import billing_run
    from subscriptions.services.checkout import subscribe
    from tests.subscriptions.test_webhooks import card_needing_authentication

    add_card(customer)
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    sub = subscribe(user=customer, price=price, now=timezone.now())
    card_needing_authentication(customer)
    billing_run(now=sub.next_billing_at)
    invoice = Invoice.objects.get(kind="renewal")
    link = next(
        line for line in mailoutbox[-1].body.split() if f"/invoices/{invoice.number}/pay/" in line
    )

    login(customer, language="fr")
    page.goto(urlsplit(link).path)
    settle()
    expect(page.get_by_text("Votre banque vous demande de confirmer ce paiement.")).to_be_visible()
    page.get_by_role("button", name="Confirmer le paiement auprès de ma banque").click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_text("Merci : votre paiement a bien été reçu.")).to_be_visible()
    settle()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
