"""Issue 13: exports, tickets and refund requests were not throttled (8 exports back to back,
20 identical tickets at once, all accepted). Each is now limited per customer
(settings.THROTTLES) with a clear message on the page, and the limit holds under
simultaneous requests."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.throttle import throttle_hit
from privacy.models import DataExport
from subscriptions.models import Invoice, Price, RefundRequest
from subscriptions.services.checkout import subscribe
from support.models import Ticket
from tests.factories import UserFactory

T0 = datetime(2026, 6, 1, 9, 0, 30, tzinfo=UTC)
TOO_MANY = "You have done this too many times in a short while."


@pytest.fixture
def limits(settings):
    settings.THROTTLES = {
        "privacy_export": (3, 3600),
        "support_ticket": (5, 3600),
        "support_reply": (20, 3600),
        "refund_request": (5, 3600),
    }
    return settings.THROTTLES


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_twenty_simultaneous_hits_let_exactly_the_limit_through(limits):
    results = []
    barrier = threading.Barrier(20)

    def hit():
        barrier.wait()
        results.append(throttle_hit(user_id=7, action="support_ticket"))

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result is None for result in results) == 5
    assert throttle_hit(user_id=8, action="support_ticket") is None  # another customer


@pytest.mark.django_db(transaction=True)
def test_a_fourth_export_within_the_hour_is_refused_with_a_message(
    customer_client, customer, limits
):
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            customer_client.post("/en/account/data/")
        response = customer_client.post("/en/account/data/", follow=True)

    assert DataExport.objects.filter(user=customer).count() == 3
    page = response.content.decode()
    assert TOO_MANY in page
    assert "Please try again in 60 minutes." in page

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        customer_client.post("/en/account/data/")
    assert DataExport.objects.filter(user=customer).count() == 4


@pytest.mark.django_db
def test_a_sixth_ticket_within_the_hour_is_refused_and_what_was_typed_stays(
    customer_client, customer, limits
):
    ticket = {"category": "technical", "subject": "Same again", "body": "Hello?"}
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            assert customer_client.post("/en/account/support/new/", ticket).status_code == 302
        response = customer_client.post("/en/account/support/new/", ticket)

    assert response.status_code == 429
    page = response.content.decode()
    assert TOO_MANY in page
    assert 'value="Same again"' in page
    assert Ticket.objects.filter(user=customer).count() == 5

    other = UserFactory()
    customer_client.force_login(other)
    with time_machine.travel(T0, tick=False):
        assert customer_client.post("/en/account/support/new/", ticket).status_code == 302


@pytest.mark.django_db
def test_a_twenty_first_reply_within_the_hour_is_refused_and_nothing_is_saved(
    customer_client, customer, limits, mailoutbox
):
    with time_machine.travel(T0, tick=False):
        ticket = Ticket.objects.get(
            pk=customer_client.post(
                "/en/account/support/new/",
                {"category": "technical", "subject": "Still broken", "body": "Hello?"},
            )["Location"]
            .rstrip("/")
            .split("/")[-1]
        )
        url = f"/en/account/support/{ticket.pk}/"
        for n in range(20):
            assert customer_client.post(url, {"body": f"Ping {n}"}).status_code == 302
        mailoutbox.clear()
        response = customer_client.post(url, {"body": "Ping 20"})

    assert response.status_code == 429
    page = response.content.decode()
    assert TOO_MANY in page
    assert "Please try again in 60 minutes." in page
    assert "Ping 20</textarea>" in page  # what was typed stays
    assert ticket.messages.count() == 21  # the opening message and 20 replies
    assert not ticket.messages.filter(body="Ping 20").exists()
    assert mailoutbox == []

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert customer_client.post(url, {"body": "Ping 20"}).status_code == 302
    assert ticket.messages.filter(body="Ping 20").exists()


@pytest.mark.django_db
def test_the_message_is_in_french_on_a_french_page(customer_client, limits):
    ticket = {"category": "technical", "subject": "Encore", "body": "Bonjour ?"}
    with time_machine.travel(T0 + timedelta(minutes=58), tick=False):
        for _ in range(5):
            customer_client.post("/fr/account/support/new/", ticket)
        page = customer_client.post("/fr/account/support/new/", ticket).content.decode()

    assert "Vous avez fait cette demande trop de fois en peu de temps." in page
    assert "Merci de réessayer dans 2 minutes." in page


@pytest.mark.django_db
def test_refund_requests_are_throttled_before_any_refund_is_made(
    customer_client, customer, catalog, add_card, limits
):
    add_card(customer)
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    subscribe(user=customer, price=price, now=timezone.now())
    url = f"/en/account/invoices/{Invoice.objects.get().number}/refund/"

    for _ in range(5):  # altered quotes: each refused
        response = customer_client.post(url, {"reason": "changed_mind", "quote": "forged"})
        assert "This quote has expired" in response.content.decode()
    response = customer_client.post(url, {"reason": "changed_mind"})

    assert response.status_code == 429
    assert TOO_MANY in response.content.decode()
    assert not RefundRequest.objects.exists()
