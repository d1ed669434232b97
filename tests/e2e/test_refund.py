from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from subscriptions.models import Invoice, InvoiceKind, RefundRequest, RefundStatus
from subscriptions.services.billing import billing_run


def test_within_14_days_a_french_customer_gets_the_full_refund(
    page, settle, login, subscribed_customer, customer, transactional_db, stripe_server
):
    import stripe

    subscribed_customer(language="fr", at=timezone.now() - timedelta(days=3))
    invoice = Invoice.objects.get()
    login(customer, language="fr")
    page.goto(f"/fr/account/invoices/{invoice.number}/")
    settle()
    page.get_by_role("link", name="Demander un remboursement").click()
    settle()
    expect(page.get_by_text("Vous serez remboursé de 49,00")).to_be_visible()
    page.get_by_label("J’ai changé d’avis").check()
    page.get_by_role("button", name="Demander un remboursement").click()
    settle()
    expect(page.get_by_text("3 à 5 jours ouvrables")).to_be_visible()
    refund = RefundRequest.objects.get()
    assert refund.status == RefundStatus.SUCCEEDED
    assert stripe.Refund.retrieve(refund.stripe_refund_id).amount == 4900


def test_after_a_renewal_within_5_business_days_an_english_customer_is_refunded(
    page, settle, login, subscribed_customer, customer, transactional_db
):
    sub = subscribed_customer(language="en", at=timezone.now() - timedelta(days=32))
    billing_run(now=sub.next_billing_at)
    renewal = Invoice.objects.get(kind=InvoiceKind.RENEWAL)
    assert timezone.now() - renewal.paid_at < timedelta(days=3)
    login(customer)
    page.goto(f"/en/account/invoices/{renewal.number}/refund/")
    settle()
    expect(page.get_by_text("Your last automatic renewal can still be cancelled")).to_be_visible()
    page.get_by_label("I no longer use it").check()
    page.get_by_role("button", name="Request a refund").click()
    settle()
    expect(page.get_by_text("has been refunded")).to_be_visible()
    assert RefundRequest.objects.get().amount == 4900


def test_a_request_outside_the_rules_goes_to_review_and_staff_approve_it(
    page, settle, login, subscribed_customer, customer, transactional_db, mailoutbox, staff_member
):
    subscribed_customer(language="en", at=timezone.now() - timedelta(days=20))
    invoice = Invoice.objects.get()
    login(customer)
    page.goto(f"/en/account/invoices/{invoice.number}/refund/")
    settle()
    page.get_by_label("The service did not work as described").check()
    page.get_by_label("Details").fill("The review widget was down for a week.")
    page.get_by_role("button", name="Request a refund").click()
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your request is sent to our team")
    page.get_by_role("button", name="Sign out").click()
    settle()

    login(staff_member("Billing"))
    refund = RefundRequest.objects.get()
    page.goto(f"/en/admin/subscriptions/refundrequest/{refund.pk}/change/")
    settle()
    expect(page.get_by_text("The review widget was down for a week.")).to_be_visible()
    page.get_by_label("Decision:").select_option("approve")
    page.get_by_label("Amount to refund:").fill("20.00")
    page.get_by_role("button", name="Save", exact=True).click()
    settle()
    refund.refresh_from_db()
    assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, 2000)
    assert any(m.subject == "Refund of €20.00 issued" for m in mailoutbox)
