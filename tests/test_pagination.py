"""Every customer list is paginated (issue 18): a page costs the same with 5 rows or 5,000, and
a page number that is not one shows a page, never an error."""

import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from privacy.models import DataExport, ExportStatus
from subscriptions.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Price,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from support.models import Ticket
from tests.factories import UserFactory

START = datetime(2020, 1, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def subscription(customer, catalog):
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
    return Subscription.objects.create(
        user=customer,
        plan=price.plan,
        price=price,
        status=SubscriptionStatus.ACTIVE,
        currency="EUR",
    )


def _invoices(subscription, count, *, prefix="2026"):
    return Invoice.objects.bulk_create(
        Invoice(
            number=f"{prefix}-{n + 1:06d}",
            user=subscription.user,
            subscription=subscription,
            kind=InvoiceKind.RENEWAL,
            status=InvoiceStatus.PAID,
            currency="EUR",
            subtotal=4900,
            tax=980,
            total=5880,
            tax_rate_bps=2000,
            period_start=START + timedelta(days=n),
            period_end=START + timedelta(days=n + 31),
            issued_at=START + timedelta(days=n),
            paid_at=START + timedelta(days=n),
            seller={"name": "e-confiance SAS"},
            buyer={"name": "Camille Martin", "country": "FR"},
        )
        for n in range(count)
    )


def _measure(client, url):
    before = time.process_time()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return time.process_time() - before, len(queries)


def test_5000_invoices_cost_what_5_cost(catalog, settings):
    """Interleaved, median of 9: the machine is shared, so both customers see the same noise."""
    clients = {}
    for count, prefix in ((5, "2025"), (5000, "2026")):
        user = UserFactory()
        price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
        sub = Subscription.objects.create(
            user=user, plan=price.plan, price=price, status="active", currency="EUR"
        )
        _invoices(sub, count, prefix=prefix)
        clients[count] = Client()
        clients[count].force_login(user)
        clients[count].get("/en/account/invoices/")  # warm the template and translation caches
    cpu: dict[int, list[float]] = {5: [], 5000: []}
    queries: dict[int, set[int]] = {5: set(), 5000: set()}
    for _ in range(9):
        for count, client in clients.items():
            seconds, number = _measure(client, "/en/account/invoices/")
            cpu[count].append(seconds)
            queries[count].add(number)
    # The same page of queries; a session read from the database rather than the cache
    # (cached_db) may add one to either customer's request.
    assert max(queries[5000]) <= max(queries[5])
    assert min(queries[5000]) >= min(queries[5]) - 1
    small, large = statistics.median(cpu[5]), statistics.median(cpu[5000])
    assert large < 2 * small, (large, small)
    page = clients[5000].get("/en/account/invoices/").content.decode()
    assert page.count("€58.80") == settings.PAGE_SIZE
    assert f"Page 1 of {5000 // settings.PAGE_SIZE}" in page
    # Newest first: the last invoice issued opens the first page.
    assert "2026-005000" in page
    assert f"2026-{5000 - settings.PAGE_SIZE:06d}" not in page


def test_the_invoice_pages_follow_each_other(customer_client, subscription, settings):
    settings.PAGE_SIZE = 2
    _invoices(subscription, 5)
    pages = [
        customer_client.get(f"/en/account/invoices/?page={n}").content.decode() for n in (1, 2, 3)
    ]
    shown = [
        [f"2026-{n:06d}" for n in range(1, 6) if f"2026-{n:06d}</a>" in page] for page in pages
    ]
    assert shown == [
        ["2026-000004", "2026-000005"],
        ["2026-000002", "2026-000003"],
        ["2026-000001"],
    ]
    assert 'href="?page=2" rel="next"' in pages[0]
    assert "Page 1 of 3" in pages[0]
    assert 'href="?page=1" rel="prev"' in pages[1]
    assert 'href="?page=3" rel="next"' in pages[1]
    assert 'rel="next"' not in pages[2]


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999", "1\x00", "2" * 40])
def test_a_page_that_is_not_one_shows_a_page(customer_client, subscription, settings, page):
    settings.PAGE_SIZE = 2
    _invoices(subscription, 3)
    response = customer_client.get("/fr/account/invoices/", {"page": page})
    assert response.status_code == 200
    # Past either end (0, -1, 99999) is the last page; what is not a number is the first.
    last = page in ("0", "-1", "99999", "2" * 40)
    assert response.content.decode().count("58,80") == (1 if last else 2)


def test_the_pages_are_in_french(customer_client, subscription, settings):
    settings.PAGE_SIZE = 2
    _invoices(subscription, 3)
    page = customer_client.get("/fr/account/invoices/").content.decode()
    assert "Page 1 sur 2" in page
    assert "Page suivante" in page


def test_a_short_list_has_no_page_links(customer_client, subscription):
    _invoices(subscription, 3)
    page = customer_client.get("/en/account/invoices/").content.decode()
    assert 'class="pagination"' not in page


@pytest.mark.parametrize("count", [1, 500])
def test_refunds_tickets_and_exports_are_paginated(
    customer_client, customer, subscription, settings, count, django_assert_max_num_queries
):
    invoices = _invoices(subscription, count)
    RefundRequest.objects.bulk_create(
        RefundRequest(
            user=customer,
            invoice=invoice,
            amount=100,
            currency="EUR",
            status=RefundStatus.SUCCEEDED,
            rule="none",
            reason="other",
            quoted_amount=100,
        )
        for invoice in invoices
    )
    Ticket.objects.bulk_create(
        Ticket(
            user=customer,
            category="billing",
            subject=f"Question {n}",
            created_at=START,
            reply_due_at=START,
            last_customer_message_at=START,
        )
        for n in range(count)
    )
    DataExport.objects.bulk_create(
        DataExport(user=customer, status=ExportStatus.FAILED, token=f"t{n}") for n in range(count)
    )
    shown = min(count, settings.PAGE_SIZE)
    with django_assert_max_num_queries(5):
        refunds = customer_client.get("/en/account/refunds/").content.decode()
    assert refunds.count("€1.00") == shown
    with django_assert_max_num_queries(6):
        tickets = customer_client.get("/en/account/support/").content.decode()
    assert tickets.count("Question ") == shown
    with django_assert_max_num_queries(5):
        exports = customer_client.get("/en/account/data/").content.decode()
    assert exports.count('<tr id="export-') == shown
    # The export being prepared (or the latest) is the newest, whatever page is read.
    assert (
        "could not be prepared" in customer_client.get("/en/account/data/?page=2").content.decode()
    )


def test_another_customers_rows_are_not_listed(customer_client, subscription):
    other = UserFactory()
    Ticket.objects.create(
        user=other,
        category="billing",
        subject="Not yours",
        created_at=START,
        reply_due_at=START,
        last_customer_message_at=START,
    )
    assert "Not yours" not in customer_client.get("/en/account/support/").content.decode()


def test_the_admin_timeline_shows_the_latest_events_and_links_to_all(
    admin_client, customer, settings, django_assert_max_num_queries
):
    from subscriptions.models import AuditEvent

    settings.ADMIN_PAGE_SIZE = 5
    AuditEvent.objects.bulk_create(
        AuditEvent(user=customer, kind=f"event_{n:02d}", data={}) for n in range(12)
    )
    url = f"/en/admin/accounts/user/{customer.pk}/change/"
    admin_client.get(url)
    page = admin_client.get(url).content.decode()
    # Staff read sentences, not codes: each of the 5 latest events is one "Other event." row.
    assert page.count("Other event.") == 5
    assert f"/en/admin/subscriptions/auditevent/?user__id__exact={customer.pk}" in page
    listing = admin_client.get(
        f"/en/admin/subscriptions/auditevent/?user__id__exact={customer.pk}"
    ).content.decode()
    assert listing.count("Other event.") == 12
