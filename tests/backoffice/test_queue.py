"""The admin home is the staff's work queue: what waits, against its target, overdue first."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from subscriptions.models import Invoice
from subscriptions.services.contract_changes import change_request_create
from subscriptions.services.refunds import refund_request_create
from support import services as support
from tests.backoffice.conftest import price
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def rows(html, section):
    block = html.split(f'id="queue-{section}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<th scope=\"row\"><a href=\"[^\"]+\">([^<]+)</a>", block)


def test_the_home_lists_what_waits_overdue_first_with_time_left(
    staff_client, subscribed, django_assert_max_num_queries
):
    customers = [UserFactory() for _ in range(3)]
    # Two refund reviews, filed on Monday 2 and Wednesday 4 March: due at the end of
    # Monday 9 and Wednesday 11 (5 business days, France).
    for n, user in enumerate(customers[:2]):
        subscribed(user, "pro", "month", at=T0 - timedelta(days=20))
        invoice = Invoice.objects.get(user=user)
        with time_machine.travel(T0 + timedelta(days=2 * n), tick=False):
            refund_request_create(
                user=user,
                invoice=invoice,
                reason="service_problem",
                details="Down",
                now=T0 + timedelta(days=2 * n),
            )
    sub = subscribed(customers[2], "standard", "year", at=T0)
    with time_machine.travel(T0, tick=False):
        change_request_create(
            user=customers[2],
            subscription=sub,
            target=price("premium", "year"),
            reason="SMS",
            message="",
        )
    late = support.ticket_create(
        user=customers[0], category="technical", subject="Widget down", body="x", now=T0
    )
    second = support.ticket_create(
        user=customers[1],
        category="billing",
        subject="Invoice address",
        body="x",
        now=T0 + timedelta(days=2),
    )
    client = staff_client("Billing")
    at = T0 + timedelta(days=2, hours=1)  # Wednesday: the first ticket is 1 h overdue
    with time_machine.travel(at, tick=False), django_assert_max_num_queries(25):
        page = client.get("/en/admin/")
    html = page.content.decode()
    assert rows(html, "tickets") == [
        f"{late.reference} Widget down",
        f"{second.reference} Invoice address",
    ]
    assert rows(html, "refunds") == ["2026-000001", "2026-000002"]
    assert rows(html, "changes") == ["Standard → Premium"]
    assert "⚠ overdue by 1\xa0hour" in html
    # The first refund's decision target: the end of Monday 9 March, Paris time.
    assert "<td>10 Mar 2026 00:00</td>" in html
    assert re.search(r"<td>5\s+days, 13\s+hours left</td>", html)

    # The query count does not grow with the queue.
    for n in range(5):
        support.ticket_create(
            user=customers[2], category="technical", subject=f"More {n}", body="x", now=at
        )
    with time_machine.travel(at, tick=False), django_assert_max_num_queries(25):
        page = client.get("/en/admin/")
    assert len(rows(page.content.decode(), "tickets")) == 7


def test_a_deleted_customers_ticket_leaves_the_queue(staff_client, customer):
    support.ticket_create(user=customer, category="technical", subject="Hi", body="x", now=T0)
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    page = staff_client("Support").get("/en/admin/")
    assert rows(page.content.decode(), "tickets") == []
