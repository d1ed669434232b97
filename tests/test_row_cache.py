"""List rows are rendered once per process and kept under everything they show (issue 18):
a row whose data, language or time zone changed is rendered again, never served stale, and
the cached page is the page rendered afresh."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import caches

from subscriptions.models import Invoice, InvoiceStatus
from support.models import Category, Ticket, TicketStatus
from tests.test_pagination import _invoices
from tests.test_pagination import subscription as _subscription

subscription = _subscription  # the fixture, shared with the pagination tests

# 23:30 UTC: the next day in Paris, the same day in New York.
LATE = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_rows_kept():
    caches["rows"].clear()
    yield
    caches["rows"].clear()


def _ticket(customer, **fields):
    return Ticket.objects.create(
        user=customer,
        category=Category.BILLING,
        subject="Double charge in March",
        created_at=LATE,
        reply_due_at=LATE + timedelta(days=2),
        last_customer_message_at=LATE,
        **fields,
    )


def _without_token(response):
    """The page less its CSRF token, which is new at each request."""
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "TOKEN", response.content.decode())


def _row(html, marker):
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def test_a_ticket_row_follows_its_status_language_and_time_zone(customer_client, customer):
    ticket = _ticket(customer)
    marker = f'id="ticket-{ticket.pk}"'
    row = _row(customer_client.get("/en/account/support/").content.decode(), marker)
    assert "Open: reply expected by" in row
    assert "Double charge in March" in row

    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED, closed_at=LATE)
    row = _row(customer_client.get("/en/account/support/").content.decode(), marker)
    assert "Closed" in row
    assert "reply expected" not in row

    row = _row(customer_client.get("/fr/account/support/").content.decode(), marker)
    assert "Fermé" in row
    assert "Closed" not in row

    customer.time_zone = "Europe/Paris"
    customer.save(update_fields=["time_zone"])
    assert "March 11, 2026" in _row(
        customer_client.get("/en/account/support/").content.decode(), marker
    )
    customer.time_zone = "America/New_York"
    customer.save(update_fields=["time_zone"])
    assert "March 10, 2026" in _row(
        customer_client.get("/en/account/support/").content.decode(), marker
    )


def test_an_invoice_row_shows_a_refund_made_after_it_was_first_shown(
    customer_client,
    subscription,
):
    [invoice] = _invoices(subscription, 1)
    marker = f'id="invoice-{invoice.number}"'
    assert "refunded" not in _row(
        customer_client.get("/en/account/invoices/").content.decode(), marker
    )
    # Written as the refund path writes it: one UPDATE, no save() and no signal.
    Invoice.objects.filter(pk=invoice.pk).update(amount_refunded=1960, status=InvoiceStatus.PAID)
    row = _row(customer_client.get("/en/account/invoices/").content.decode(), marker)
    assert "€19.60 refunded" in row


def test_the_cached_page_is_the_page_rendered_afresh(
    customer_client,
    customer,
    subscription,
    settings,
):
    _invoices(subscription, 12)
    for n in range(12):
        _ticket(customer, status=TicketStatus.ANSWERED if n % 2 else TicketStatus.OPEN)
    for url in ("/en/account/invoices/", "/fr/account/support/", "/en/account/support/?page=2"):
        fresh = _without_token(customer_client.get(url))  # rendered, then kept
        assert len(caches["rows"]._cache) > 0
        cached = _without_token(customer_client.get(url))
        assert cached == fresh


def test_an_erased_account_leaves_no_row_in_this_process(customer_client, customer):
    from privacy.services import account_delete

    _ticket(customer)
    customer_client.get("/en/account/support/")
    assert len(caches["rows"]._cache) > 0
    account_delete(user=customer, actor=customer, now=datetime.now(UTC))
    assert len(caches["rows"]._cache) == 0
