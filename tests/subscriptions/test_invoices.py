"""The customer's invoices: list, detail page and PDF, only their own, in their language."""

from datetime import UTC, datetime, timedelta

import pytest

from subscriptions.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Price,
    Subscription,
    SubscriptionStatus,
)
from tests.factories import UserFactory

ISSUED = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
SELLER = {
    "name": "e-confiance SAS",
    "address": "12 rue de la Paix, 75002 Paris, France",
    "vat_number": "FR00123456789",
}


def _subscription(user, catalog):
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
    return Subscription.objects.create(
        user=user,
        plan=price.plan,
        price=price,
        status=SubscriptionStatus.ACTIVE,
        currency="EUR",
    )


def _invoice(subscription, *, number="2026-000042", status=InvoiceStatus.PAID, months=0, lines=1):
    user = subscription.user
    start = ISSUED + timedelta(days=31 * months)
    invoice = Invoice.objects.create(
        number=number,
        user=user,
        subscription=subscription,
        kind=InvoiceKind.RENEWAL,
        status=status,
        currency="EUR",
        subtotal=4900,
        tax=980,
        total=5880,
        tax_rate_bps=2000,
        period_start=start,
        period_end=start + timedelta(days=31),
        issued_at=start,
        paid_at=start if status == InvoiceStatus.PAID else None,
        seller=SELLER,
        buyer={
            "name": "Camille Martin",
            "company": "Boulangerie Martin",
            "email": user.email,
            "country": "FR",
        },
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            description=f"Pro (month) {n + 1}",
            amount=4900 // lines,
            period_start=start,
            period_end=start + timedelta(days=31),
        )
        for n in range(lines)
    )
    return invoice


@pytest.fixture
def subscription(customer, catalog):
    return _subscription(customer, catalog)


@pytest.fixture
def invoice(subscription):
    return _invoice(subscription)


@pytest.fixture
def stranger_invoice(catalog):
    return _invoice(_subscription(UserFactory(), catalog), number="2026-000043")


def test_list_shows_amounts_dates_and_links_in_french(customer_client, invoice):
    html = customer_client.get("/fr/account/invoices/").content.decode()
    assert "2026-000042" in html
    assert "58,80\xa0€" in html
    assert "15 janvier 2026" in html
    assert 'href="/fr/account/invoices/2026-000042/"' in html
    assert 'href="/fr/account/invoices/2026-000042/pdf/"' in html
    assert "/pay/" not in html  # paid: nothing to pay


def test_list_in_english_states_each_status_and_offers_to_pay_open_ones(
    customer_client, subscription
):
    for months, (number, status) in enumerate(
        [
            ("2026-000001", InvoiceStatus.PAID),
            ("2026-000002", InvoiceStatus.OPEN),
            ("2026-000003", InvoiceStatus.UNCOLLECTIBLE),
            ("2026-000004", InvoiceStatus.VOID),
        ]
    ):
        _invoice(subscription, number=number, status=status, months=months)
    html = customer_client.get("/en/account/invoices/").content.decode()
    assert "€58.80" in html
    assert "January 15, 2026" in html
    for word in ("Paid", "Awaiting payment", "Unpaid", "Void"):
        assert f">{word}</td>" in html
    assert html.count("/pay/") == 1
    assert 'href="/en/account/invoices/2026-000002/pay/"' in html


def test_list_shows_only_the_customers_own_invoices(customer_client, invoice, stranger_invoice):
    html = customer_client.get("/en/account/invoices/").content.decode()
    assert "2026-000042" in html
    assert "2026-000043" not in html


def test_list_without_invoices_says_so(customer_client, catalog):
    french = customer_client.get("/fr/account/invoices/").content.decode()
    assert "Vous n\u2019avez pas encore de facture." in french
    english = customer_client.get("/en/account/invoices/").content.decode()
    assert "You have no invoices yet." in english


def test_invoice_pages_need_a_login(client, invoice):
    for url in ("/fr/account/invoices/", "/fr/account/invoices/2026-000042/pdf/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/auth/login/" in response["Location"]


def test_detail_shows_seller_buyer_number_tax_and_total(customer_client, invoice):
    response = customer_client.get("/en/account/invoices/2026-000042/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "e-confiance SAS",
        "12 rue de la Paix, 75002 Paris, France",
        "FR00123456789",
        "Camille Martin",
        "Boulangerie Martin",
        invoice.user.email,
        "France",
        "Invoice 2026-000042",
        "January 15, 2026",
        "Pro (month) 1",
        "€49.00",
        "VAT 20%",
        "€9.80",
        "€58.80",
        "Paid on January 15, 2026",
        'href="/en/account/invoices/2026-000042/pdf/"',
    ):
        assert text in html, text
    assert "/pay/" not in html


def test_detail_in_french_formats_money_rate_and_dates(customer_client, subscription):
    _invoice(subscription, status=InvoiceStatus.OPEN)
    html = customer_client.get("/fr/account/invoices/2026-000042/").content.decode()
    for text in ("49,00\xa0€", "9,80\xa0€", "58,80\xa0€", "20\xa0%", "15 janvier 2026"):
        assert text in html, text
    assert 'href="/fr/account/invoices/2026-000042/pay/"' in html


def test_pdf_is_an_a4_attachment_in_the_language_of_the_request(
    customer_client, invoice, monkeypatch
):
    import weasyprint

    rendered = []
    real_html = weasyprint.HTML

    def spy(**kwargs):
        rendered.append(kwargs["string"])
        return real_html(**kwargs)

    monkeypatch.setattr(weasyprint, "HTML", spy)
    response = customer_client.get("/fr/account/invoices/2026-000042/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-2026-000042.pdf"'
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 1000
    assert "size: A4" in rendered[0]
    assert "58,80\xa0€" in rendered[0]
    assert "15 janvier 2026" in rendered[0]
    assert "FR00123456789" in rendered[0]

    customer_client.get("/en/account/invoices/2026-000042/pdf/")
    assert "€58.80" in rendered[1]
    assert "Paid on January 15, 2026" in rendered[1]


@pytest.mark.parametrize("suffix", ["", "pdf/"])
def test_another_customers_invoice_is_not_found(customer_client, stranger_invoice, suffix):
    response = customer_client.get(f"/fr/account/invoices/2026-000043/{suffix}")
    assert response.status_code == 404


@pytest.mark.parametrize("suffix", ["", "pdf/"])
def test_unknown_invoice_is_not_found(customer_client, invoice, suffix):
    assert customer_client.get(f"/en/account/invoices/2026-999999/{suffix}").status_code == 404


@pytest.mark.parametrize("count", [1, 30])
def test_list_query_count_does_not_grow_with_invoices(
    customer_client, subscription, count, django_assert_max_num_queries, settings
):
    for n in range(count):
        _invoice(subscription, number=f"2026-{n + 1:06d}", months=n)
    with django_assert_max_num_queries(5):  # session, user, count, a page, its credit notes
        response = customer_client.get("/en/account/invoices/")
    assert response.content.decode().count("€58.80") == min(count, settings.PAGE_SIZE)


@pytest.mark.parametrize("lines", [1, 30])
def test_detail_query_count_does_not_grow_with_lines(
    customer_client, subscription, lines, django_assert_max_num_queries
):
    _invoice(subscription, lines=lines)
    with django_assert_max_num_queries(5):  # session, user, invoice, lines, credit notes
        response = customer_client.get("/en/account/invoices/2026-000042/")
    assert response.content.decode().count("Pro (month)") == lines
