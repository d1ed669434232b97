"""A British company in pounds sterling, in English (issue 14, findings 4 and 5): pricing,
subscribe, change and refund all in GBP, outside the scope of French VAT."""

import re

import stripe
from playwright.sync_api import expect

from subscriptions.models import (
    Invoice,
    InvoiceKind,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)


def test_a_uk_company_buys_changes_and_is_refunded_in_pounds_without_french_vat(
    page, settle, login, fill_card, customer, catalog, stripe_server, transactional_db, ticked_terms
):
    customer.language = "en"
    customer.save(update_fields=["language"])
    login(customer)

    # The profile says where the company is: the United Kingdom, a business.
    page.goto("/en/account/settings/")
    settle()
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Time zone").select_option("Europe/London")
    expect(page.get_by_label("I buy as a business")).to_be_checked()
    page.get_by_label("VAT number").fill("GB 980 7806 84")
    page.get_by_role("button", name="Save").click()
    settle()
    expect(page.get_by_text("Your profile has been saved.")).to_be_visible()

    # Pricing: pounds by default, from the country.
    page.goto("/en/")
    settle()
    expect(page.locator("nav.currency strong")).to_have_text("GBP")
    expect(page.locator("#plan-pro")).to_contain_text("£42.00")

    # Subscribe in pounds: no French VAT, the reason in the same summary.
    page.get_by_role("link", name="Subscription", exact=True).click()
    settle()
    expect(page.locator("nav.currency strong")).to_have_text("GBP")
    page.get_by_role("link", name="Pro – £42.00 per month excl. VAT").click()
    settle()
    expect(page.get_by_text("No VAT is charged: your country is outside the scope")).to_be_visible()
    pay = page.get_by_role("button", name="Pay £42.00 and subscribe")
    fill_card()
    ticked_terms.tick(page)
    pay.click()
    page.wait_for_url("**/account/subscription/")
    settle()
    expect(page.get_by_text("Thank you: your subscription is active.")).to_be_visible()
    first = Invoice.objects.get(user=customer, kind=InvoiceKind.FIRST)
    assert (first.currency, first.total, first.tax, first.tax_regime) == (
        "GBP",
        4200,
        0,
        "outside_scope",
    )
    assert stripe.PaymentIntent.retrieve(first.stripe_payment_intent_id).currency == "gbp"

    # The currency is kept: no switcher once subscribed, the changes are in pounds.
    expect(page.locator("nav.currency")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("€"))).to_have_count(0)
    page.get_by_role("link", name="Premium – £69.00 per month excl. VAT").click()
    quote = page.locator("#quote")
    expect(quote).to_contain_text("To pay today:")
    settle()
    shown = re.search(r"To pay today: £([\d.,]+)\.", quote.inner_text()).group(1)
    quote.get_by_role("button", name=f"Confirm and pay £{shown}").click()
    expect(page.get_by_text("You are now on Premium.")).to_be_visible()
    settle()
    change = Invoice.objects.get(user=customer, kind=InvoiceKind.PRORATION)
    assert (change.currency, change.tax, f"{change.total / 100:.2f}") == ("GBP", 0, shown)

    # Refund under the guarantee: in pounds, for the first payment.
    page.goto(f"/en/account/invoices/{first.number}/refund/")
    settle()
    expect(page.get_by_text(re.compile(r"£\d"))).not_to_have_count(0)
    expect(page.get_by_text(re.compile("€"))).to_have_count(0)
    page.get_by_label("I changed my mind").check()
    page.get_by_role("button", name="Request a refund").click()
    settle()
    refunds = list(RefundRequest.objects.filter(user=customer))
    assert refunds
    assert {r.currency for r in refunds} == {"GBP"}
    assert all(r.status == RefundStatus.SUCCEEDED for r in refunds)
    assert sum(r.amount for r in refunds) == first.total + change.total
    for refund in refunds:
        assert stripe.Refund.retrieve(refund.stripe_refund_id).currency == "gbp"
    assert Subscription.objects.get(user=customer).status == SubscriptionStatus.CANCELED
