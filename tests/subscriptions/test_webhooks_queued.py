"""Webhooks acknowledged fast (issue 18): the request checks the signature and stores the
event, with no Stripe call; a worker processes it with one Stripe fetch."""

import pytest
import stripe
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from djstripe.models import Account, Event, WebhookEventTrigger
from stripe._http_client import HTTPClient

from subscriptions.models import InvoiceStatus, SubscriptionStatus
from tests.subscriptions.test_webhooks import (  # noqa: F401 - fixtures
    authenticate,
    deliver,
    endpoint,
    renewal_needing_authentication,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stripe_calls(monkeypatch):
    calls = []
    real = HTTPClient.request_with_retries

    def counted(self, method, url, *args, **kwargs):
        calls.append((method, url))
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(HTTPClient, "request_with_retries", counted)
    return calls


def test_the_request_stores_the_event_and_a_worker_applies_it_with_one_fetch(
    client,
    endpoint,  # noqa: F811
    renewal_needing_authentication,  # noqa: F811
    stripe_server,
    stripe_calls,
    monkeypatch,
):
    sub, invoice, attempt = renewal_needing_authentication
    intent = authenticate(stripe_server, attempt)
    task = current_app.tasks["subscriptions.tasks.stripe_event_process"]
    queued = []
    monkeypatch.setattr(task, "delay", lambda **kwargs: queued.append(kwargs))
    # dj-stripe looks up the Stripe account once per API key, then keeps it.
    Account.get_or_retrieve_for_api_key(stripe.api_key)
    stripe_calls.clear()

    with CaptureQueriesContext(connection) as queries:
        response = deliver(client, endpoint, "payment_intent.succeeded", intent)

    assert response.status_code == 200
    assert stripe_calls == []  # nothing asked of Stripe while it waits for our answer
    # The endpoint with its account, the event stored once with its signature checked, and
    # whether it names a deleted customer's Stripe id (then it is scrubbed, issue 13).
    assert len(queries) == 3, [q["sql"][:120] for q in queries.captured_queries]
    trigger = WebhookEventTrigger.objects.get()
    assert (trigger.valid, trigger.processed) == (True, False)
    assert queued == [{"trigger_id": trigger.pk}]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN  # not yet: the worker applies it

    assert task.run(**queued[0]) is True  # the worker
    assert len(stripe_calls) == 1
    assert "/v1/payment_intents/" in stripe_calls[0][1]
    invoice.refresh_from_db()
    sub.refresh_from_db()
    trigger.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert sub.status == SubscriptionStatus.ACTIVE
    assert trigger.processed
    assert Event.objects.count() == 1
    # Delivered to the worker twice (acks_late): nothing happens the second time.
    stripe_calls.clear()
    assert task.run(**queued[0]) is False
    assert stripe_calls == []


def test_a_bad_signature_queues_nothing(client, endpoint, monkeypatch, stripe_calls):  # noqa: F811
    task = current_app.tasks["subscriptions.tasks.stripe_event_process"]
    queued = []
    monkeypatch.setattr(task, "delay", lambda **kwargs: queued.append(kwargs))
    response = deliver(
        client, endpoint, "payment_intent.succeeded", {"id": "pi_x"}, secret="whsec_wrong"
    )
    assert response.status_code == 400
    assert queued == []
    assert stripe_calls == []
    assert stripe.api_key  # the gateway stays configured
