"""The customer's card, collected by Stripe.js into a SetupIntent."""

import logging

from django.db import transaction

from accounts.models import User
from subscriptions.gateways import stripe as gateway
from subscriptions.models import BillingAccount, TrialClaim
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.trials import email_hash

logger = logging.getLogger(__name__)


# --- card (Stripe.js SetupIntent) ------------------------------------------------------------


def billing_account_for(*, user: User) -> BillingAccount:
    """The customer's billing account, with a Stripe customer (created once)."""
    account, _created = BillingAccount.objects.get_or_create(user=user)
    if not account.stripe_customer_id:
        customer_id = gateway.customer_create(
            email=user.email, name=user.name or user.email, user_id=user.pk
        )
        BillingAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(
            stripe_customer_id=customer_id
        )
        account.refresh_from_db()
    return account


def card_setup_start(*, user: User) -> str:
    """The client secret of a SetupIntent for Stripe.js to collect a card."""
    try:
        account = billing_account_for(user=user)
        return gateway.setup_intent_create(customer_id=account.stripe_customer_id)
    except gateway.GatewayError as exc:
        raise SubscriptionError(exc.message) from exc


def card_save(*, user: User, setup_intent_id: str) -> BillingAccount:
    """Keep the card a SetupIntent saved as the default; detach the one it replaces."""
    account = billing_account_for(user=user)
    try:
        pm_id = gateway.setup_intent_payment_method(
            setup_intent_id=setup_intent_id, customer_id=account.stripe_customer_id
        )
        card = gateway.card_attach(customer_id=account.stripe_customer_id, payment_method_id=pm_id)
    except gateway.GatewayError as exc:
        raise SubscriptionError(exc.message) from exc
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
        old = account.payment_method_id
        account.payment_method_id = card.payment_method_id
        account.card_brand = card.brand
        account.card_last4 = card.last4
        account.card_exp_month = card.exp_month
        account.card_exp_year = card.exp_year
        account.card_fingerprint = card.fingerprint
        account.save()
        audit(user=user, kind="card_saved", brand=card.brand, last4=card.last4)
    if old and old != card.payment_method_id:
        try:
            gateway.card_detach(old)
        except gateway.GatewayError:
            logger.warning("could not detach %s; it stays attached but unused", old)
    return account


def card_used_for_another_trial(user: User, account: BillingAccount) -> bool:
    if not account.card_fingerprint:
        return False
    return (
        TrialClaim.objects.filter(card_fingerprint=account.card_fingerprint)
        .exclude(email_hash=email_hash(user.email))
        .exists()
    )
