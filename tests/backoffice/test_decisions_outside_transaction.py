"""Django's admin saves a change form inside transaction.atomic. A refund or contract-change
decision made there called Stripe with that transaction open (rows locked, a connection held
while Stripe answers). The decision is now made after the admin's transaction: every call to
Stripe sees no transaction open, and the decision still lands and is told to staff."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    ChangeRequestStatus,
    Invoice,
    RefundRequest,
    RefundStatus,
    Subscription,
)
from subscriptions.services.contract_changes import change_request_create
from subscriptions.services.refunds import refund_request_create
from tests.backoffice.conftest import price
from tests.conftest import shown_charge

pytestmark = pytest.mark.django_db(transaction=True)

STRIPE_CALLS = ("payment_charge", "refund_create", "refund_find", "charge_amount_refunded")


@pytest.fixture
def stripe_calls(monkeypatch):
    """The real gateway (localstripe), each call first noting whether a transaction is open."""
    seen = []
    for name in STRIPE_CALLS:
        real = getattr(gateway, name)

        def checked(*args, _real=real, _name=name, **kwargs):
            seen.append((_name, connection.in_atomic_block))
            return _real(*args, **kwargs)

        monkeypatch.setattr(gateway, name, checked)
    return seen


@pytest.fixture
def review(customer, subscribed):
    """A refund request waiting for staff (a service problem, 20 days after paying)."""
    subscribed(customer, "pro", "month", at=timezone.now() - timedelta(days=20))
    invoice = Invoice.objects.get(user=customer)
    return refund_request_create(
        user=customer, invoice=invoice, reason="service_problem", details="x", now=timezone.now()
    )


def test_a_partly_approved_refund_is_made_with_no_transaction_open(
    staff_client, review, stripe_calls, mailoutbox
):
    assert review.status == RefundStatus.REVIEW
    client = staff_client("Billing")
    url = f"/en/admin/subscriptions/refundrequest/{review.pk}/change/"
    stripe_calls.clear()

    done = client.post(
        url,
        {"decision": "approve", "refund_amount": "12.50", "written_reason": "Outage"},
        follow=True,
    )

    assert ("refund_create", False) in stripe_calls
    assert all(open_ is False for _name, open_ in stripe_calls), stripe_calls
    review = RefundRequest.objects.get(pk=review.pk)
    assert (review.status, review.amount, review.decided_by) == (
        RefundStatus.SUCCEEDED,
        1250,
        client.member,
    )
    page = done.content.decode()
    assert "The decision is recorded and e-mailed to the customer." in page
    assert "was changed successfully" not in page


def test_a_refused_decision_is_told_as_an_error_not_a_success(staff_client, review, stripe_calls):
    client = staff_client("Billing")
    url = f"/en/admin/subscriptions/refundrequest/{review.pk}/change/"
    stripe_calls.clear()

    done = client.post(
        url, {"decision": "approve", "refund_amount": "999.00", "written_reason": ""}, follow=True
    )

    page = done.content.decode()
    assert "at most what is left to refund" in page
    assert "The decision is recorded" not in page
    assert "was changed successfully" not in page
    assert stripe_calls == []
    assert RefundRequest.objects.get(pk=review.pk).status == RefundStatus.REVIEW


def test_an_approved_contract_change_is_charged_with_no_transaction_open(
    staff_client, customer, subscribed, stripe_calls, mailoutbox
):
    sub = subscribed(customer, "starter", "year", at=timezone.now())
    change = change_request_create(
        user=customer,
        subscription=sub,
        target=price("pro", "year"),
        reason="SMS",
        message="",
        now=timezone.now(),
    )
    client = staff_client("Billing")
    url = f"/en/admin/subscriptions/contractchangerequest/{change.pk}/change/"
    token = shown_charge(client.get(url).content.decode())
    stripe_calls.clear()

    done = client.post(
        url, {"decision": "approve", "written_reason": "", "charge": token}, follow=True
    )

    assert stripe_calls[0] == ("payment_charge", False), stripe_calls
    assert all(open_ is False for _name, open_ in stripe_calls), stripe_calls
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.APPROVED
    assert Subscription.objects.get(pk=sub.pk).plan.code == "pro"
    upgrade = Invoice.objects.filter(user=customer).order_by("-pk").first()
    assert (upgrade.total, upgrade.status) == (24000, "paid")
    assert "The decision is recorded and e-mailed to the customer." in done.content.decode()


def test_approving_what_a_colleague_just_decided_shows_their_decision(
    staff_client, review, stripe_calls
):
    client = staff_client("Billing")
    url = f"/en/admin/subscriptions/refundrequest/{review.pk}/change/"
    form = {"decision": "approve", "refund_amount": "10.00", "written_reason": ""}
    client.post(url, form)
    stripe_calls.clear()

    again = client.post(url, {**form, "refund_amount": "5.00"}, follow=True)

    assert again.status_code == 200
    assert again.redirect_chain == [(url, 302)]
    page = again.content.decode()
    assert "This request has already been decided." in page
    assert 'name="decision"' not in page  # read-only: who decided, when, how much
    assert stripe_calls == []
    assert RefundRequest.objects.get(pk=review.pk).amount == 1000
