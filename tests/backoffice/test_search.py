"""Staff find a customer by what they are told and read the whole file on one page."""

from datetime import UTC, datetime, timedelta

import pytest

from subscriptions.models import BillingAccount, CreditNote, Invoice
from subscriptions.money import format_money
from subscriptions.services.refunds import refund_request_create
from support import services as support
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def customer_with_history(customer, subscribed):
    customer.name, customer.company = "Ada Lovelace", "Analytical Engines"
    customer.save(update_fields=["name", "company"])
    subscribed(customer, "pro", "month", at=T0 - timedelta(days=20))
    refund_request_create(
        user=customer,
        invoice=Invoice.objects.get(user=customer),
        reason="service_problem",
        details="Down",
        now=T0,
    )
    support.ticket_create(user=customer, category="billing", subject="VAT", body="x", now=T0)
    UserFactory(name="Someone Else", company="Other")
    return customer


def test_a_customer_is_found_by_email_name_invoice_number_or_stripe_id(
    staff_client, customer_with_history
):
    client = staff_client("Support")
    invoice = Invoice.objects.get(user=customer_with_history)
    stripe_id = BillingAccount.objects.get(user=customer_with_history).stripe_customer_id
    for query in (
        customer_with_history.email.upper(),
        "lovelace",
        "analytical",
        invoice.number,
        stripe_id,
        invoice.stripe_payment_intent_id,
    ):
        page = client.get("/en/admin/customers/", {"q": query})
        assert page.status_code == 200
        assert [u.pk for u in page.context["results"]] == [customer_with_history.pk], query
    assert client.get("/en/admin/customers/", {"q": "nobody-like-this"}).context["results"] == []


def test_the_customer_file_shows_everything_on_one_page_in_constant_queries(
    staff_client, customer_with_history, django_assert_max_num_queries
):
    client = staff_client("Support", language="fr")
    url = f"/fr/admin/customers/{customer_with_history.pk}/"
    with django_assert_max_num_queries(20):
        page = client.get(url)
    html = page.content.decode()
    invoice = Invoice.objects.get(user=customer_with_history)
    assert invoice.number in html
    assert "Pro, mensuel" in html  # the subscription's price in words
    assert "examen par l’équipe" in html  # the refund's rule
    assert "VAT" in html  # the ticket
    assert "Paiement de" in html  # the timeline, as sentences
    for n in range(4):
        support.ticket_create(
            user=customer_with_history, category="billing", subject=f"More {n}", body="x", now=T0
        )
    with django_assert_max_num_queries(20):
        client.get(url)


def test_a_staff_member_is_not_a_customer_file(staff_client):
    client = staff_client("Support")
    assert client.get(f"/en/admin/customers/{client.member.pk}/").status_code == 404


def test_the_customer_file_lists_credit_notes_with_their_pdf_and_invoice(
    staff_client, customer, subscribed
):
    subscribed(customer, "pro", "month", at=T0 - timedelta(days=2))
    invoice = Invoice.objects.get(user=customer)
    refund_request_create(user=customer, invoice=invoice, reason="changed_mind", details="", now=T0)
    note = CreditNote.objects.get(user=customer)
    client = staff_client("Support", language="fr")

    html = client.get(f"/fr/admin/customers/{customer.pk}/").content.decode()

    section = html.split('id="file-credit-notes"')[1].split("</section>")[0]
    assert f'href="/fr/admin/documents/credit-note/{note.number}/pdf/"' in section
    assert (
        f'href="/fr/admin/subscriptions/invoice/{invoice.pk}/change/">{invoice.number}' in section
    )
    assert format_money(note.total, note.currency, "fr") in section
    timeline = html.split('id="file-timeline"')[1]
    assert (
        f"Avoir {note.number} de {format_money(note.total, note.currency, 'fr')} émis (facture"
        in timeline
    )
    assert "Autre événement" not in timeline
    pdf = client.get(f"/fr/admin/documents/credit-note/{note.number}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
