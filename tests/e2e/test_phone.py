"""A 390 x 844 phone: no page of the customer area scrolls sideways, in either language."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="fr-FR")
    yield context.new_page()
    context.close()


def _sign_in(page, customer, language):
    page.goto(f"/{language}/auth/login/")
    page.locator("input[name=login]").fill(customer.email)
    page.locator("input[name=password]").fill("correct horse battery staple")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"**/{language}/account/**")


def _overflow(page):
    """How far the page is wider than the screen, and what sticks out."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const out = [...document.querySelectorAll("body *")]
            .filter(e => e.getBoundingClientRect().right > width + 1
                         && !e.closest("[data-scrolls]"))
            .slice(0, 5)
            .map(e => e.tagName + "." + e.className + ": " + e.textContent.trim().slice(0, 40));
          return [document.documentElement.scrollWidth - width, out];
        }"""
    )


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_customer_page_scrolls_sideways_on_a_phone(
    phone, language, customer, catalog, add_card, stripe_server, transactional_db
):
    from allauth.account.models import EmailAddress

    from subscriptions.models import Invoice, Price
    from subscriptions.services.checkout import subscribe

    customer.name = "Camille Martin-Delacroix de la Fontaine"
    customer.email = "camille.martin-delacroix.de-la-fontaine@entreprise-exemple.example"
    customer.language = language
    customer.save()
    EmailAddress.objects.filter(user=customer).update(email=customer.email)
    add_card(customer)
    price = Price.objects.get(plan__code="premium", interval="year", currency="EUR")
    subscribe(user=customer, price=price, now=timezone.now())
    invoice = Invoice.objects.get(user=customer)
    _sign_in(phone, customer, language)
    pages = [
        "account/",
        "account/subscription/",
        "account/invoices/",
        f"account/invoices/{invoice.number}/",
        f"account/invoices/{invoice.number}/refund/",
        "account/refunds/",
        "account/card/",
        "account/cancel/",
        "account/support/",
        "account/support/new/",
        "account/data/",
        "account/settings/",
        "terms/",
        "",
    ]
    for path in pages:
        phone.goto(f"/{language}/{path}")
        wider, out = _overflow(phone)
        assert wider <= 0, f"/{language}/{path} is {wider}px too wide: {out}"
    # The invoice list shows each invoice's total, status and actions on the screen.
    phone.goto(f"/{language}/account/invoices/")
    row = phone.locator(f"#invoice-{invoice.number}")
    for cell in ("td.amount", "td.status", "td.invoice-actions a >> nth=-1"):
        box = row.locator(cell).bounding_box()
        assert box["x"] >= 0, cell
        assert box["x"] + box["width"] <= PHONE["width"], cell
    # The cancellation summary (step 2), with the long e-mail and the end date.
    phone.goto(f"/{language}/account/cancel/")
    phone.locator("main form button[type=submit]").first.click()
    expect(phone.locator("h1")).to_have_count(1)
    wider, out = _overflow(phone)
    assert wider <= 0, f"the cancellation summary is {wider}px too wide: {out}"
