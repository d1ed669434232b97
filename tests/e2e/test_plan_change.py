import re

import pytest
from playwright.sync_api import expect

from subscriptions.models import Invoice, InvoiceKind
from subscriptions.money import format_money

WORDS = {
    "en": {
        "subscription": "Subscription",
        "premium": "Premium – €79.00 per month excl. VAT",
        "to_pay": "To pay today:",
        "amount": r"To pay today: (€[\d.,]+)\.",
        "confirm": "Confirm and pay {amount}",
        "done": "You are now on Premium.",
    },
    "fr": {
        "subscription": "Abonnement",
        "premium": "Premium – 79,00\xa0€ par mois HT",
        "to_pay": "À payer aujourd’hui :",
        "amount": r"À payer aujourd’hui : ([\d,]+\s€)\.",
        "confirm": "Confirmer et payer {amount}",
        "done": "Vous êtes maintenant sur l’offre Premium.",
    },
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_upgrade_is_charged_exactly_the_amount_quoted_in_place(
    page, settle, login, subscribed_customer, customer, transactional_db, language
):
    words = WORDS[language]
    subscribed_customer(language=language)
    login(customer, language=language)
    page.get_by_role("link", name=words["subscription"], exact=True).click()
    settle()
    page.get_by_role("link", name=words["premium"]).click()  # htmx, in place
    quote = page.locator("#quote")
    expect(quote).to_contain_text(words["to_pay"])
    expect(page).to_have_url(re.compile(rf"/{language}/account/subscription/$"))
    settle()
    shown = re.search(words["amount"], quote.inner_text()).group(1)

    quote.get_by_role("button", name=words["confirm"].format(amount=shown)).click()
    expect(page.get_by_text(words["done"])).to_be_visible()
    settle()

    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert format_money(invoice.total, "EUR", language) == shown.replace(" ", "\xa0")
