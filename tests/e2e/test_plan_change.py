import re

from playwright.sync_api import expect

from subscriptions.models import Invoice, InvoiceKind


def test_an_upgrade_is_charged_exactly_the_amount_quoted_in_place(
    page, settle, login, subscribed_customer, customer, transactional_db
):
    subscribed_customer(language="en")
    login(customer)
    page.get_by_role("link", name="Subscription", exact=True).click()
    settle()
    page.get_by_role("link", name="Premium – €79.00 per month excl. VAT").click()  # htmx, in place
    quote = page.locator("#quote")
    expect(quote).to_contain_text("To pay today:")
    expect(page).to_have_url(re.compile(r"/en/account/subscription/$"))
    settle()
    shown = re.search(r"To pay today: €([\d.,]+)\.", quote.inner_text()).group(1)

    quote.get_by_role("button", name=f"Confirm and pay €{shown}").click()
    expect(page.get_by_text("You are now on Premium.")).to_be_visible()
    settle()

    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert f"{invoice.total / 100:.2f}" == shown
