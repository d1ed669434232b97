"""What a support or billing agent reads in the admin: sentences, formatted money, words for
statuses and rules, decided requests read-only, dj-stripe's mirrors out of sight."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from subscriptions.models import ChangeRequestStatus, Invoice, InvoiceKind, RefundStatus
from subscriptions.money import format_money
from subscriptions.services.contract_changes import (
    change_request_create,
    change_request_decide,
    change_request_quote,
)
from subscriptions.services.refunds import refund_request_create
from tests.backoffice.conftest import price
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)
RAW = re.compile(r"[a-z]+_[a-z_]+|\{&quot;|\{\"|EUR \d")


def visible_text(html):
    """The page's text as read: no tags, no scripts, no attributes."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", html)
    html = re.sub(r"(?s)</?(a|strong|em|span)\b[^>]*>", "", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return re.sub(r"[ \t\r\n]+", " ", html).strip()


def assert_no_raw_codes(text):
    found = {m for m in RAW.findall(text) if m not in {"e_mail"}}
    assert not found, found


def test_a_change_request_shows_in_staff_words_what_approval_does_then_reads_as_decided(
    staff_client, customer, subscribed, mailoutbox
):
    sub = subscribed(customer, "standard", "year", at=T0)
    change = change_request_create(
        user=customer,
        subscription=sub,
        target=price("premium", "year"),
        reason="We need SMS reminders",
        message="",
    )
    client = staff_client("Billing")
    url = f"/en/admin/subscriptions/contractchangerequest/{change.pk}/change/"
    at = T0 + timedelta(days=100)
    with time_machine.travel(at, tick=False):
        quote = change_request_quote(change=change, now=at)
        page = client.get(url)
    assert page.status_code == 200
    text = visible_text(page.content.decode())
    due = format_money(quote.amount_due, "EUR", "en")
    assert f"If you approve, the customer moves from Standard to Premium now: {due} is charged" in (
        text
    )
    assert "If you reject, nothing changes: the customer stays on Standard" in text
    assert "Standard, yearly, €390.00" in text  # the current price, not "standard year EUR 39000"
    assert 'name="decision"' in page.content.decode()
    assert_no_raw_codes(text)

    with time_machine.travel(at, tick=False):
        change_request_decide(
            change=change, actor=client.member, approve=True, reason="Welcome", now=at
        )
        page = client.get(url)
    html = page.content.decode()
    text = visible_text(html)
    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert 'name="decision"' not in html
    assert "If you approve" not in text
    assert client.member.email in text
    assert "Welcome" in text
    assert f"Change from Standard to Premium, {due} charged (invoice {invoice.number})" in text
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.APPROVED
    # A decided request cannot be decided again through the form: the post is sent back to
    # the decided page, which says so.
    with time_machine.travel(at, tick=False):
        response = client.post(url, {"decision": "reject", "written_reason": "no"}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert "This request has already been decided." in visible_text(response.content.decode())
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.APPROVED


def test_a_refund_review_is_partly_approved_and_then_shows_who_decided_and_what_was_refunded(
    staff_client, customer, subscribed, mailoutbox
):
    subscribed(customer, "pro", "month", at=T0)
    invoice = Invoice.objects.get()
    at = T0 + timedelta(days=20)
    refund = refund_request_create(
        user=customer, invoice=invoice, reason="service_problem", details="Down", now=at
    )
    assert refund.status == RefundStatus.REVIEW
    client = staff_client("Billing")
    url = f"/en/admin/subscriptions/refundrequest/{refund.pk}/change/"
    with time_machine.travel(at + timedelta(hours=1), tick=False):
        page = client.get(url)
        text = visible_text(page.content.decode())
        left = format_money(invoice.total - invoice.tax, "EUR", "en")
        assert f"at most {left}, taxes excluded" in text
        assert "staff review" in text  # the rule as words
        # 002: 5 business days after Sunday 1 February: the end of Friday 6, Paris time.
        assert "5\xa0days left (7 Feb 2026 00:00)" in text
        assert_no_raw_codes(text)
        response = client.post(
            url, {"decision": "approve", "refund_amount": "12.50", "written_reason": "Outage"}
        )
        assert response.status_code == 302
        page = client.get(url)
    refund.refresh_from_db()
    assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, 1250)
    html = page.content.decode()
    text = visible_text(html)
    assert 'name="decision"' not in html
    assert "€12.50" in text
    assert "Outage" in text
    assert client.member.email in text
    assert "Remboursement de 12,50 € effectué" in [m.subject for m in mailoutbox]


def test_the_customer_timeline_reads_as_sentences_with_links_and_no_json(
    staff_client, customer, subscribed
):
    subscribed(customer, "pro", "month", at=T0)
    invoice = Invoice.objects.get()
    client = staff_client("Support", language="fr")
    page = client.get(f"/fr/admin/accounts/user/{customer.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    text = visible_text(html)
    total = format_money(invoice.total, "EUR", "fr")
    assert f"Paiement de {total} reçu (facture {invoice.number})" in text
    assert f'?q={invoice.number}">{invoice.number}</a>' in html
    assert "payment_succeeded" not in text
    assert "invoice_issued" not in text
    assert "SUBSCRIPTION" not in text.upper().replace("ABONNEMENTS", "")


def test_support_and_billing_never_see_dj_stripe_but_a_superuser_does(staff_client, admin_user):
    for group in ("Support", "Billing"):
        client = staff_client(group)
        index = client.get("/en/admin/")
        assert index.status_code == 200
        assert "/admin/djstripe/" not in index.content.decode()
        assert client.get("/en/admin/djstripe/customer/").status_code in (403, 404)
        client.logout()
    admin_client = staff_login(Client(), admin_user)
    index = admin_client.get("/en/admin/")
    assert "/admin/djstripe/" in index.content.decode()
    assert admin_client.get("/en/admin/djstripe/customer/").status_code == 200


def test_sections_have_unique_names_and_an_app_page_is_titled_by_its_name(admin_client):
    index = admin_client.get("/fr/admin/")
    names = [section["name"] for section in index.context["app_list"]]
    assert len(names) == len(set(map(str, names)))
    page = admin_client.get("/fr/admin/subscriptions/")
    assert "Administration de" not in page.content.decode()
