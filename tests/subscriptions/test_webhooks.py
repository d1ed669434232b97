"""Stripe events through dj-stripe's endpoint: signature checked, stored once, handlers replay
safely. A payment that needs the customer's bank (3-D Secure) is completed outside the
portal, and the webhook is what tells the portal."""

import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import pytest
import requests
import stripe
from django.utils import timezone
from djstripe.models import Event, WebhookEndpoint, WebhookEventTrigger

from devtools.localstripe_server import PUBLISHABLE_KEY
from subscriptions import entitlements
from subscriptions.models import (
    AttemptStatus,
    AuditEvent,
    Invoice,
    InvoiceStatus,
    Price,
    SubscriptionStatus,
)
from subscriptions.services.billing import billing_run
from subscriptions.services.cards import card_save, card_setup_start
from subscriptions.services.checkout import subscribe

SECRET = "whsec_test_portal"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def endpoint(db):
    return WebhookEndpoint.objects.create(
        id="we_test",
        livemode=False,
        secret=SECRET,
        url="http://testserver/",
        status="enabled",
        enabled_events=["*"],
        api_version="2024-04-10",
    )


def deliver(client, endpoint, event_type, obj, *, event_id=None, secret=SECRET, **headers):
    payload = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:14]}",
            "object": "event",
            "api_version": "2024-04-10",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
    )
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256)
    return client.post(
        f"/stripe/webhook/{endpoint.djstripe_uuid}/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={stamp},v1={signature.hexdigest()}",
        **headers,
    )


def card_needing_authentication(customer):
    pm = stripe.PaymentMethod.create(
        type="card",
        card={"number": "4000002760003184", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    )
    setup_intent_id = card_setup_start(user=customer).split("_secret_")[0]
    stripe.SetupIntent.confirm(setup_intent_id, payment_method=pm.id)
    stripe.SetupIntent.confirm(setup_intent_id)  # the customer passed 3-D Secure at entry
    card_save(user=customer, setup_intent_id=setup_intent_id)


def authenticate(server, attempt, success=True):
    """What the bank's 3-D Secure dialog does when the customer answers."""
    response = requests.post(
        f"{server.url}/v1/payment_intents/{attempt.payment_intent_id}/_authenticate"
        f"?success={'true' if success else 'false'}",
        json={"key": PUBLISHABLE_KEY, "client_secret": attempt.client_secret},
        timeout=10,
    )
    response.raise_for_status()
    return stripe.PaymentIntent.retrieve(attempt.payment_intent_id).to_dict()


@pytest.fixture
def renewal_needing_authentication(customer, catalog, add_card, stripe_server, mailoutbox):
    add_card(customer)
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    sub = subscribe(user=customer, price=price, now=timezone.now())
    card_needing_authentication(customer)
    billing_run(now=sub.next_billing_at)
    invoice = Invoice.objects.get(kind="renewal")
    attempt = invoice.attempts.get()
    assert attempt.status == AttemptStatus.REQUIRES_ACTION
    # The customer is e-mailed a link to confirm the payment with their bank.
    assert f"/account/invoices/{invoice.number}/pay/" in mailoutbox[-1].body
    return sub, invoice, attempt


def test_a_bank_authentication_completed_elsewhere_is_applied_by_the_webhook(
    client, endpoint, renewal_needing_authentication, stripe_server
):
    sub, invoice, attempt = renewal_needing_authentication
    intent = authenticate(stripe_server, attempt)

    response = deliver(client, endpoint, "payment_intent.succeeded", intent)

    assert response.status_code == 200
    invoice.refresh_from_db()
    sub.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert sub.status == SubscriptionStatus.ACTIVE
    assert WebhookEventTrigger.objects.get().processed


def test_duplicated_and_reversed_deliveries_end_in_the_same_state(
    client, endpoint, renewal_needing_authentication, stripe_server, mailoutbox
):
    sub, invoice, attempt = renewal_needing_authentication
    requires_action = stripe.PaymentIntent.retrieve(attempt.payment_intent_id).to_dict()
    succeeded = authenticate(stripe_server, attempt)
    receipts_before = len(mailoutbox)

    # Newest first, then the older event, then each again (Stripe redelivers).
    deliver(client, endpoint, "payment_intent.succeeded", succeeded, event_id="evt_ok")
    deliver(client, endpoint, "payment_intent.requires_action", requires_action, event_id="evt_3ds")
    deliver(client, endpoint, "payment_intent.succeeded", succeeded, event_id="evt_ok")
    deliver(client, endpoint, "payment_intent.requires_action", requires_action, event_id="evt_3ds")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.attempts.count() == 1
    assert Event.objects.count() == 2
    assert len(mailoutbox) == receipts_before + 1  # one receipt
    assert AuditEvent.objects.filter(kind="payment_succeeded", subscription=sub).count() == 2


def test_a_failed_authentication_keeps_the_invoice_open_for_the_retries(
    client, endpoint, renewal_needing_authentication, stripe_server
):
    sub, invoice, attempt = renewal_needing_authentication
    failed = authenticate(stripe_server, attempt, success=False)
    deliver(client, endpoint, "payment_intent.payment_failed", failed)
    invoice.refresh_from_db()
    sub.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.next_retry_at is not None
    assert sub.status == SubscriptionStatus.PAST_DUE


def test_a_bank_that_asks_for_authentication_at_every_retry_ends_in_suspension(
    renewal_needing_authentication, mailoutbox
):
    """004: three retries over 7 days; the customer never confirmed, so the service stops."""
    sub, invoice, _attempt = renewal_needing_authentication
    due = sub.next_billing_at
    for day in (1, 3):
        billing_run(now=due + timedelta(days=day))
        sub.refresh_from_db()
        assert sub.status == SubscriptionStatus.PAST_DUE
    billing_run(now=due + timedelta(days=7))

    sub.refresh_from_db()
    assert invoice.attempts.count() == 4
    assert set(invoice.attempts.values_list("status", flat=True)) == {AttemptStatus.REQUIRES_ACTION}
    assert sub.status == SubscriptionStatus.SUSPENDED
    assert not entitlements.has_feature(sub.user, "core")
    assert "suspended" in mailoutbox[-1].subject.lower() or "suspendu" in mailoutbox[-1].subject


def test_a_bad_signature_is_refused_and_changes_nothing(
    client, endpoint, renewal_needing_authentication, stripe_server
):
    _sub, invoice, attempt = renewal_needing_authentication
    intent = authenticate(stripe_server, attempt)
    response = deliver(client, endpoint, "payment_intent.succeeded", intent, secret="whsec_wrong")
    assert response.status_code == 400
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert not Event.objects.exists()


def test_in_debug_a_secret_of_the_callers_choice_in_a_header_is_not_accepted(
    client, endpoint, renewal_needing_authentication, stripe_server, settings
):
    """Issue 13: dj-stripe in DEBUG checked the signature against X-Djstripe-Webhook-Secret,
    so a caller signing with a secret of their own got a forged event processed."""
    settings.DEBUG = True
    _sub, invoice, attempt = renewal_needing_authentication
    intent = authenticate(stripe_server, attempt)
    forged = "whsec_chosen_by_the_attacker"
    response = deliver(
        client,
        endpoint,
        "payment_intent.succeeded",
        intent,
        secret=forged,
        HTTP_X_DJSTRIPE_WEBHOOK_SECRET=forged,
    )

    assert response.status_code == 400
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert not Event.objects.exists()
    trigger = WebhookEventTrigger.objects.get()
    assert trigger.valid is False
    assert "X-Djstripe-Webhook-Secret" not in trigger.headers  # the secret is not kept either

    # The endpoint's own secret still works in DEBUG.
    ok = deliver(client, endpoint, "payment_intent.succeeded", intent)
    assert ok.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_refund_made_in_the_stripe_dashboard_is_recorded(
    client, endpoint, customer, catalog, add_card, stripe_server
):
    add_card(customer)
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    subscribe(user=customer, price=price, now=timezone.now())
    invoice = Invoice.objects.get()
    stripe.Refund.create(charge=invoice.stripe_charge_id, amount=1000)
    charge = stripe.Charge.retrieve(invoice.stripe_charge_id).to_dict()

    deliver(client, endpoint, "charge.refunded", charge)
    deliver(client, endpoint, "charge.refunded", charge)

    invoice.refresh_from_db()
    assert invoice.amount_refunded == 1000
    assert AuditEvent.objects.filter(kind="refund_recorded").count() == 1


def test_an_event_that_fails_is_kept_for_staff_and_processed_again(
    client, endpoint, renewal_needing_authentication, stripe_server
):
    from subscriptions.webhooks import stripe_events_retry

    _sub, invoice, attempt = renewal_needing_authentication
    intent = authenticate(stripe_server, attempt)
    base = stripe.api_base
    stripe.api_base = "http://127.0.0.1:9"  # Stripe unreachable while the event arrives
    client.raise_request_exception = False  # as in production: a 500, Stripe delivers again
    try:
        response = deliver(client, endpoint, "payment_intent.succeeded", intent)
    finally:
        stripe.api_base = base
    assert response.status_code >= 400
    trigger = WebhookEventTrigger.objects.get()
    assert (trigger.valid, trigger.processed) == (True, False)
    assert trigger.exception  # shown in the admin with its traceback
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN

    assert stripe_events_retry() == 1
    trigger.refresh_from_db()
    invoice.refresh_from_db()
    assert trigger.processed
    assert invoice.status == InvoiceStatus.PAID
