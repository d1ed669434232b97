"""The localstripe wrapper: loopback only, state under the project, dj-stripe's extra routes,
the card scenarios the portal relies on, and signed webhooks. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from devtools.localstripe_server import (
    ACCOUNT_ID,
    DEFAULT_STATE_PATH,
    REPO_ROOT,
    SECRET_KEY,
    LocalStripe,
)

WEBHOOK_TIMEOUT = 15  # seconds; localstripe posts events about one second after the call


class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 that records every POST (body, Stripe-Signature)."""

    def __init__(self) -> None:
        self.deliveries: queue.Queue[tuple[bytes, str]] = queue.Queue()
        deliveries = self.deliveries

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                deliveries.put((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, matches: Callable[[dict[str, Any]], bool]) -> tuple[bytes, str]:
        """The first delivery whose JSON body ``matches``."""
        deadline = time.monotonic() + WEBHOOK_TIMEOUT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                body, signature = self.deliveries.get(timeout=remaining)
            except queue.Empty:
                break
            if matches(json.loads(body)):
                return body, signature
        pytest.fail(f"no matching webhook delivery within {WEBHOOK_TIMEOUT} s")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _customer_with_card(card: str = "pm_card_visa") -> tuple[Any, Any]:
    """A customer whose card went through a SetupIntent, attached and made the default."""
    customer = stripe.Customer.create(email=f"{secrets.token_hex(4)}@example.com")
    setup = stripe.SetupIntent.create(customer=customer.id, payment_method_types=["card"])
    setup = stripe.SetupIntent.confirm(setup.id, payment_method=card)
    assert setup.status == "succeeded"
    # localstripe does not attach on confirm (DESIGN.md section 7): attach explicitly.
    method = stripe.PaymentMethod.attach(setup.payment_method, customer=customer.id)
    stripe.Customer.modify(customer.id, invoice_settings={"default_payment_method": method.id})
    return customer, method


def _non_loopback_ipv4() -> str | None:
    """This machine's outgoing IPv4 address, if it has one (nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only selects a route
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


def test_listens_on_loopback_only(localstripe: LocalStripe) -> None:
    assert localstripe.bound_address == ("127.0.0.1", localstripe.port)
    assert localstripe.url == f"http://127.0.0.1:{localstripe.port}"
    assert localstripe.health()["ok"] is True

    address = _non_loopback_ipv4()
    if address is None:
        return  # no other interface to probe; the bound address above is the proof
    with pytest.raises((ConnectionRefusedError, TimeoutError)):  # nothing listens there
        socket.create_connection((address, localstripe.port), timeout=2).close()


def test_account_is_served_for_dj_stripe(localstripe: LocalStripe) -> None:
    account = stripe.Account.retrieve()

    assert account.id == ACCOUNT_ID
    assert account.object == "account"
    assert account.country == "FR"
    assert account.default_currency == "eur"
    assert account.charges_enabled is True
    assert account.settings.dashboard.display_name
    assert stripe.Account.retrieve(ACCOUNT_ID).id == ACCOUNT_ID


def test_missing_objects_look_like_stripe_errors(localstripe: LocalStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Customer.retrieve("cus_doesnotexist")
    assert missing.value.code == "resource_missing"
    assert "No such customer" in str(missing.value)

    with pytest.raises(stripe.InvalidRequestError) as unknown_account:
        stripe.Account.retrieve("acct_other")
    assert unknown_account.value.code == "resource_missing"


def test_off_session_payment_on_a_saved_card(localstripe: LocalStripe) -> None:
    customer, method = _customer_with_card()

    intent = stripe.PaymentIntent.create(
        amount=1990,
        currency="eur",
        customer=customer.id,
        payment_method=method.id,
        off_session=True,
        confirm=True,
    )

    assert intent.status == "succeeded"
    # localstripe embeds the charge where Stripe gives its id: accept both.
    latest = intent.latest_charge
    charge_id = latest if isinstance(latest, str) else latest.id
    charge = stripe.Charge.retrieve(charge_id, expand=["balance_transaction"])
    assert charge.amount == 1990
    assert charge.balance_transaction.amount == 1990
    assert stripe.BalanceTransaction.retrieve(charge.balance_transaction.id).currency == "eur"


def test_payment_intents_are_listed_per_customer_newest_first(localstripe: LocalStripe) -> None:
    first, first_card = _customer_with_card()
    other, other_card = _customer_with_card()
    made = [
        stripe.PaymentIntent.create(
            amount=amount,
            currency="eur",
            customer=customer.id,
            payment_method=card.id,
            off_session=True,
            confirm=True,
            metadata={"portal_attempt": str(amount)},
        )
        for amount, customer, card in ((100, first, first_card), (200, other, other_card))
    ]

    listed = stripe.PaymentIntent.list(customer=first.id, limit=100)

    assert [intent.id for intent in listed.data] == [made[0].id]
    assert listed.data[0].metadata["portal_attempt"] == "100"


def test_card_declined_at_charge_raises_card_error(localstripe: LocalStripe) -> None:
    customer, method = _customer_with_card("pm_card_chargeCustomerFail")

    with pytest.raises(stripe.CardError) as declined:
        stripe.PaymentIntent.create(
            amount=1990,
            currency="eur",
            customer=customer.id,
            payment_method=method.id,
            off_session=True,
            confirm=True,
        )

    assert declined.value.code == "card_declined"


def test_card_fingerprint_is_stable_across_customers(localstripe: LocalStripe) -> None:
    _, first = _customer_with_card()
    _, second = _customer_with_card()
    _, other_card = _customer_with_card("pm_card_chargeCustomerFail")

    assert first.id != second.id
    assert first.card.fingerprint == second.card.fingerprint
    assert other_card.card.fingerprint != first.card.fingerprint


def test_state_is_written_to_the_given_path_not_tmp(localstripe: LocalStripe) -> None:
    legacy = Path("/tmp/localstripe.pickle")  # noqa: S108 (localstripe's own default)
    legacy_before = legacy.stat().st_mtime_ns if legacy.exists() else None

    customer = stripe.Customer.create(email="state@example.com")

    assert localstripe.state_path != legacy
    assert customer.id.encode() in localstripe.state_path.read_bytes()
    assert (legacy.stat().st_mtime_ns if legacy.exists() else None) == legacy_before
    assert DEFAULT_STATE_PATH == REPO_ROOT / "var" / "localstripe.pickle"


def test_flush_forgets_every_object(localstripe: LocalStripe) -> None:
    customer = stripe.Customer.create(email="flush@example.com")

    localstripe.flush()

    with pytest.raises(stripe.InvalidRequestError):
        stripe.Customer.retrieve(customer.id)
    assert customer.id.encode() not in localstripe.state_path.read_bytes()
    assert stripe.Account.retrieve().id == ACCOUNT_ID  # served, not stored


def test_webhook_delivers_a_signed_payment_intent_succeeded(
    localstripe: LocalStripe, webhook_receiver: WebhookReceiver
) -> None:
    secret = f"whsec_{secrets.token_hex(16)}"
    localstripe.register_webhook(
        webhook_receiver.url, secret, events=["payment_intent.succeeded"], name="test-receiver"
    )
    try:
        customer, method = _customer_with_card()
        intent = stripe.PaymentIntent.create(
            amount=4200,
            currency="eur",
            customer=customer.id,
            payment_method=method.id,
            off_session=True,
            confirm=True,
        )
        payload, signature = webhook_receiver.wait_for(
            lambda event: event["data"]["object"]["id"] == intent.id
        )
    finally:
        localstripe.unregister_webhook("test-receiver")

    event = stripe.Webhook.construct_event(payload, signature, secret)
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == intent.id
    assert event.data.object.amount == 4200
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature, "whsec_wrong")


def test_django_settings_point_at_localstripe(localstripe: LocalStripe) -> None:
    django_conf = pytest.importorskip("django.conf")
    if not django_conf.settings.configured:
        pytest.skip("Django settings are not configured")
    settings = django_conf.settings
    names = ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_JS_URL")

    assert {name: getattr(settings, name) for name in names} == {
        "STRIPE_API_BASE": localstripe.url,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_JS_URL": f"{localstripe.url}/js.stripe.com/v3/",
    }
    assert settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test_")
    assert requests.get(settings.STRIPE_JS_URL, timeout=5).status_code == 200


def test_dj_stripe_accepts_and_stores_a_localstripe_event(
    localstripe: LocalStripe, webhook_receiver: WebhookReceiver, db: None, client: Any
) -> None:
    """dj-stripe checks the signature, finds the key's Account (GET /v1/account), re-reads
    the Customer and stores it (customer.created: no portal handler reacts to it)."""
    from django.urls import reverse
    from djstripe.enums import WebhookEndpointStatus
    from djstripe.models import Account, Customer, WebhookEndpoint, WebhookEventTrigger

    secret = f"whsec_{secrets.token_hex(16)}"
    endpoint_uuid = uuid.uuid4()
    path = reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint_uuid})
    WebhookEndpoint.objects.create(
        id=f"we_test_{endpoint_uuid.hex}",
        djstripe_uuid=endpoint_uuid,
        url=f"http://testserver{path}",
        secret=secret,
        enabled_events=["*"],
        status=WebhookEndpointStatus.enabled,
        livemode=False,
    )
    localstripe.register_webhook(
        webhook_receiver.url, secret, events=["customer.created"], name="test-dj-stripe"
    )
    try:
        customer = stripe.Customer.create(email="dj-stripe@example.com")
        payload, signature = webhook_receiver.wait_for(
            lambda event: event["data"]["object"]["id"] == customer.id
        )
    finally:
        localstripe.unregister_webhook("test-dj-stripe")

    response = client.post(
        path, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )

    assert response.status_code == 200, response.content
    trigger = WebhookEventTrigger.objects.get()
    assert (trigger.valid, trigger.processed, trigger.exception) == (True, True, "")
    assert trigger.event.type == "customer.created"
    assert Customer.objects.get(id=customer.id).email == "dj-stripe@example.com"
    assert Account.objects.filter(id=ACCOUNT_ID).exists()


def test_dj_stripe_syncs_the_payment_objects(localstripe: LocalStripe, db: None) -> None:
    """What dj-stripe's handlers re-read, with its own expand parameters: Customer,
    PaymentMethod, PaymentIntent, Charge (and balance transaction) and Refund."""
    from djstripe import models as dj

    customer, method = _customer_with_card()
    intent = stripe.PaymentIntent.create(
        amount=2000,
        currency="eur",
        customer=customer.id,
        payment_method=method.id,
        off_session=True,
        confirm=True,
    )
    latest = intent.latest_charge
    charge_id = latest if isinstance(latest, str) else latest.id
    refund = stripe.Refund.create(payment_intent=intent.id, amount=500)

    def sync(model: Any, object_id: str) -> Any:
        return model.sync_from_stripe_data(model(id=object_id).api_retrieve())

    assert sync(dj.Customer, customer.id).default_payment_method_id == method.id
    assert sync(dj.PaymentMethod, method.id).customer_id == customer.id
    assert sync(dj.PaymentIntent, intent.id).stripe_data["status"] == "succeeded"
    charge = sync(dj.Charge, charge_id)
    assert (charge.payment_intent_id, charge.balance_transaction.amount) == (intent.id, 2000)
    assert sync(dj.Refund, refund.id).charge_id == charge_id


def test_command_line_serves_and_registers_its_webhook(
    tmp_path: Path, webhook_receiver: WebhookReceiver
) -> None:
    state = tmp_path / "cli" / "localstripe.pickle"
    secret = f"whsec_{secrets.token_hex(16)}"
    log = tmp_path / "stderr.log"
    command = [
        sys.executable,
        "-m",
        "devtools.localstripe_server",
        "--port=0",
        f"--state={state}",
        "--quiet",
        f"--webhook-url={webhook_receiver.url}",
        f"--webhook-secret={secret}",
    ]
    lines: queue.Queue[str] = queue.Queue()

    def next_line() -> str:
        line = lines.get(timeout=WEBHOOK_TIMEOUT)
        assert line, f"the server exited: {log.read_text()}"  # "" marks the end of output
        return line

    with (
        log.open("w") as stderr,
        subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True
        ) as process,
    ):
        stdout = process.stdout
        assert stdout is not None

        def read_stdout() -> None:
            for line in stdout:
                lines.put(line)
            lines.put("")

        reader = threading.Thread(target=read_stdout, daemon=True)
        reader.start()
        try:
            first = next_line()
            assert first.startswith("localstripe listening on http://127.0.0.1:"), first
            url = first.split()[3]
            while "webhook 'portal'" not in next_line():
                pass

            response = requests.post(
                f"{url}/v1/customers",
                data={"email": "cli@example.com"},
                auth=(SECRET_KEY, ""),
                timeout=5,
            )
            assert response.status_code == 200, response.text
            customer_id = response.json()["id"]
            payload, signature = webhook_receiver.wait_for(
                lambda event: (
                    event["type"] == "customer.created"
                    and event["data"]["object"]["id"] == customer_id
                )
            )
            assert stripe.Webhook.construct_event(payload, signature, secret).type == (
                "customer.created"
            )
            assert customer_id.encode() in state.read_bytes()
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                returncode = process.wait(timeout=15)
            finally:
                if process.poll() is None:
                    process.kill()
                reader.join(timeout=5)
    assert returncode == 0, log.read_text()
