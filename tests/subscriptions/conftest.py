from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.utils import translation

from subscriptions.models import Invoice, Price
from subscriptions.services.checkout import subscribe
from subscriptions.services.refunds import refund_request_create
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _english_messages():
    """Service errors are read in English here; pages and e-mails pick their own language."""
    with translation.override("en"):
        yield


@pytest.fixture
def reviewer(db):
    """A staff member allowed to decide contract change requests (000)."""
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="review_contract_change"))
    return type(staff).objects.get(pk=staff.pk)


# --- refunds and their credit notes (test_refunds.py, test_credit_notes.py) --------------------

REFUNDS_T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def eur_price(catalog):
    """`eur_price("pro", "month")`: a plan's price in euros."""

    def _price(code, interval):
        return Price.objects.select_related("plan").get(
            plan__code=code, interval=interval, currency="EUR"
        )

    return _price


@pytest.fixture
def subscribed(add_card, eur_price):
    """`subscribed(user, code, interval, at)`: the user saves a card and subscribes through
    localstripe; returns the invoice paid."""

    def _subscribed(user, code="pro", interval="month", at=REFUNDS_T0):
        add_card(user)
        subscribe(user=user, price=eur_price(code, interval), now=at)
        return Invoice.objects.filter(user=user).latest("issued_at")

    return _subscribed


@pytest.fixture
def ask_refund():
    """`ask_refund(user, invoice, at, reason, details)`: the customer's refund request."""

    def _ask(user, invoice, at, reason="changed_mind", details=""):
        return refund_request_create(
            user=user, invoice=invoice, reason=reason, details=details, now=at
        )

    return _ask


@pytest.fixture
def refund_decider(db):
    """A staff member allowed to decide refunds under review (002)."""
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="decide_refund"))
    return type(staff).objects.get(pk=staff.pk)
