"""Issue 13: a field sent twice is refused where it decides what happens (the cancellation's
full refund, the quotes signed into the forms), so no reading of it is a guess."""

from urllib.parse import urlencode

import pytest
from django.utils import timezone

from subscriptions.models import Invoice, Price, RefundRequest, SubscriptionStatus
from subscriptions.services.checkout import subscribe

FORM = "application/x-www-form-urlencoded"
TWICE = "This form was sent with a field twice, so nothing was done."


@pytest.fixture
def subscription(customer, catalog, add_card):
    add_card(customer)
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    return subscribe(user=customer, price=price, now=timezone.now())


@pytest.mark.django_db
def test_full_refund_sent_twice_cancels_nothing(customer_client, subscription):
    customer_client.post("/en/account/cancel/", {"reason": ""})

    response = customer_client.post(
        "/en/account/cancel/confirm/",
        urlencode([("reason", ""), ("full_refund", "0"), ("full_refund", "1")]),
        content_type=FORM,
        follow=True,
    )

    assert TWICE in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.cancel_at is None
    assert not RefundRequest.objects.exists()


@pytest.mark.django_db
def test_a_refund_with_two_quotes_is_refused(customer_client, subscription):
    url = f"/en/account/invoices/{Invoice.objects.get().number}/refund/"

    response = customer_client.post(
        url,
        urlencode([("reason", "changed_mind"), ("quote", "a"), ("quote", "b")]),
        content_type=FORM,
    )

    assert response.status_code == 400
    assert TWICE in response.content.decode()
    assert not RefundRequest.objects.exists()
