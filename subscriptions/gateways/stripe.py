"""The only module that imports stripe: API version, base URL, calls and error translation.

Stripe moves the money; the portal decides what and when (DESIGN.md "Who owns what").
Every call that moves money carries an idempotency key derived from one of our rows.
"""

import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """A Stripe failure, with a message a customer can read."""

    def __init__(self, message: str, *, code: str = "", payment_intent_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.payment_intent_id = payment_intent_id


class CardDeclined(GatewayError):
    """The bank said no: the customer can use another card."""


@dataclass(frozen=True)
class CardDetails:
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str


@dataclass(frozen=True)
class PaymentResult:
    payment_intent_id: str
    status: str  # "succeeded" | "requires_action" | "processing" | "failed"
    client_secret: str = ""
    charge_id: str = ""
    failure_code: str = ""
    failure_message: str = ""


def configure() -> None:
    stripe.api_key = settings.STRIPE_SECRET_KEY
    stripe.api_version = settings.STRIPE_API_VERSION
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE


def _unavailable(exc: Exception) -> GatewayError:
    logger.warning("Stripe call failed: %r", exc)
    return GatewayError(
        _("The payment service is unavailable, please try again."),
        code=getattr(exc, "code", "") or "unavailable",
    )


def account_retrieve() -> dict[str, Any]:
    try:
        return dict(stripe.Account.retrieve().to_dict())
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc


def customer_create(*, email: str, name: str, user_id: int) -> str:
    try:
        customer = stripe.Customer.create(
            email=email,
            name=name,
            metadata={"portal_user_id": str(user_id)},
            idempotency_key=f"portal-customer-{user_id}",
        )
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    return str(customer.id)


def customer_delete(customer_id: str) -> None:
    try:
        stripe.Customer.delete(customer_id)
    except stripe.InvalidRequestError:
        return  # already gone
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc


def setup_intent_create(*, customer_id: str) -> str:
    """A SetupIntent for Stripe.js: the card goes from the browser to Stripe, never to us."""
    try:
        intent = stripe.SetupIntent.create(
            customer=customer_id, usage="off_session", payment_method_types=["card"]
        )
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    return str(intent.client_secret)


def setup_intent_payment_method(*, setup_intent_id: str, customer_id: str) -> str:
    """The card a succeeded SetupIntent of this customer saved (else GatewayError)."""
    try:
        intent = stripe.SetupIntent.retrieve(setup_intent_id)
    except stripe.InvalidRequestError as exc:
        raise GatewayError(_("This card could not be saved, please try again.")) from exc
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    if intent.status != "succeeded" or not intent.payment_method:
        raise GatewayError(_("This card could not be saved, please try again."))
    if intent.customer and intent.customer != customer_id:
        raise GatewayError(_("This card could not be saved, please try again."))
    payment_method = intent.payment_method
    return str(payment_method if isinstance(payment_method, str) else payment_method.id)


def card_attach(*, customer_id: str, payment_method_id: str) -> CardDetails:
    """Attach the card and make it the customer's default (localstripe does not attach it)."""
    try:
        pm = stripe.PaymentMethod.retrieve(payment_method_id)
        if getattr(pm, "customer", None) != customer_id:
            pm = stripe.PaymentMethod.attach(payment_method_id, customer=customer_id)
        stripe.Customer.modify(
            customer_id, invoice_settings={"default_payment_method": payment_method_id}
        )
    except stripe.CardError as exc:
        raise CardDeclined(_("Your card was declined: please use another card.")) from exc
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    card = pm.card
    if card is None:
        raise GatewayError(_("This card could not be saved, please try again."))
    return CardDetails(
        payment_method_id=payment_method_id,
        brand=str(card.brand or ""),
        last4=str(card.last4 or ""),
        exp_month=int(card.exp_month or 0),
        exp_year=int(card.exp_year or 0),
        fingerprint=str(getattr(card, "fingerprint", "") or ""),
    )


def card_detach(payment_method_id: str) -> None:
    try:
        stripe.PaymentMethod.detach(payment_method_id)
    except stripe.InvalidRequestError:
        return  # already detached
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc


def _result(intent: Any) -> PaymentResult:
    charge_id = ""
    latest = getattr(intent, "latest_charge", None)
    if latest:
        charge_id = str(latest if isinstance(latest, str) else latest.id)
    else:
        charges = getattr(intent, "charges", None)
        data = getattr(charges, "data", None) if charges else None
        if data:
            charge_id = str(data[-1].id)
    status = str(intent.status)
    error = getattr(intent, "last_payment_error", None)
    if status == "requires_payment_method":
        status = "failed"
    return PaymentResult(
        payment_intent_id=str(intent.id),
        status=status,
        client_secret=str(getattr(intent, "client_secret", "") or ""),
        charge_id=charge_id,
        failure_code=str(getattr(error, "decline_code", "") or getattr(error, "code", "") or "")
        if error
        else "",
        failure_message=str(getattr(error, "message", "") or "") if error else "",
    )


def payment_charge(
    *,
    customer_id: str,
    payment_method_id: str,
    amount: int,
    currency: str,
    idempotency_key: str,
    description: str,
    metadata: dict[str, str],
) -> PaymentResult:
    """Charge the saved card off-session. A decline is a result, not an exception."""
    try:
        intent = stripe.PaymentIntent.create(
            amount=amount,
            currency=currency.lower(),
            customer=customer_id,
            payment_method=payment_method_id,
            off_session=True,
            confirm=True,
            metadata={**metadata, "description": description},  # localstripe refuses description
            idempotency_key=idempotency_key,
        )
    except stripe.CardError as exc:
        error = exc.error
        intent_id = ""
        declined = getattr(error, "payment_intent", None) if error is not None else None
        if declined is not None:
            intent_id = str(declined.id)
        code = str(getattr(error, "decline_code", "") or exc.code or "card_declined")
        if code == "authentication_required" and intent_id:
            # Real Stripe raises here where localstripe returns requires_action.
            return payment_retrieve(intent_id)
        return PaymentResult(
            payment_intent_id=intent_id,
            status="failed",
            failure_code=code,
            failure_message=str(exc.user_message or ""),
        )
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    return _result(intent)


def _tagged(objects: Any, key: str, portal_id: int) -> Any:
    """The Stripe object whose metadata carries this portal id (the portal writes one on
    every charge and refund it asks for), or None."""
    for obj in objects:
        if (obj.to_dict().get("metadata") or {}).get(key) == str(portal_id):
            return obj
    return None


def payment_find(*, customer_id: str, attempt_id: int) -> PaymentResult | None:
    """The PaymentIntent an attempt created, if Stripe has one (found by the attempt's id in
    its metadata, among the customer's latest), else None: no money moved for it."""
    try:
        intents = stripe.PaymentIntent.list(customer=customer_id, limit=100)
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    intent = _tagged(intents.data, "portal_attempt", attempt_id)
    return _result(intent) if intent is not None else None


def payment_retrieve(payment_intent_id: str) -> PaymentResult:
    try:
        return _result(stripe.PaymentIntent.retrieve(payment_intent_id))
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc


def charge_amount_refunded(charge_id: str) -> int:
    """What Stripe has refunded on a charge so far (dashboard refunds included)."""
    try:
        charge = stripe.Charge.retrieve(charge_id)
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    return int(getattr(charge, "amount_refunded", 0) or 0)


def refund_find(*, charge_id: str, refund_request_id: int) -> str | None:
    """The Stripe refund a portal refund request made, if any (by its id in the metadata):
    a request cut off mid-call may have been refunded without our hearing back."""
    try:
        found = stripe.Refund.list(charge=charge_id, limit=100)
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    made = [r for r in found.data if getattr(r, "status", "succeeded") in ("succeeded", "pending")]
    refund = _tagged(made, "portal_refund", refund_request_id)
    return str(refund.id) if refund is not None else None  # failed ones are sent again


def refund_create(
    *, charge_id: str, amount: int, idempotency_key: str, metadata: dict[str, str]
) -> str:
    """Refund part or all of a charge; the caller has checked what is left to refund
    (localstripe does not stop over-refunds)."""
    try:
        refund = stripe.Refund.create(
            charge=charge_id, amount=amount, metadata=metadata, idempotency_key=idempotency_key
        )
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    if getattr(refund, "status", "succeeded") == "failed":
        raise GatewayError(_("The refund could not be made, we will try again."), code="failed")
    return str(refund.id)
