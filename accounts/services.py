import logging
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from accounts.models import User

if TYPE_CHECKING:
    from subscriptions.models import Subscription

logger = logging.getLogger(__name__)


def user_language_set(*, user: User, language: str) -> None:
    """Remember the customer's language: pages and e-mails use it from now on."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unsupported language: {language}")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])


def expired_trial_purge(*, subscription: "Subscription", now: datetime) -> bool:
    """001: a trial that ended without a subscription has its data deleted after the grace
    period. A customer who never paid has no invoice to keep: the account goes entirely; the
    trial claim (a hash of the e-mail) stays so the trial cannot be taken again."""
    from subscriptions.gateways import stripe as gateway
    from subscriptions.models import BillingAccount, Invoice, Subscription, SubscriptionStatus

    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",)).filter(pk=subscription.pk).first()
        )
        if sub is None or sub.status != SubscriptionStatus.EXPIRED or not sub.purge_at:
            return False
        if sub.purge_at > now:
            return False
        user = sub.user
        if (
            Invoice.objects.filter(user=user).exists()
            or Subscription.objects.filter(user=user).exclude(pk=sub.pk).exists()
        ):
            # The customer has other history (an invoice, a later subscription): only the
            # trial goes; the account stays.
            sub.delete()
            return True
        billing = BillingAccount.objects.filter(user=user).first()
        customer_id = billing.stripe_customer_id if billing else ""
        email = user.email
        user.delete()
    if customer_id:
        try:
            gateway.customer_delete(customer_id)
        except gateway.GatewayError:
            logger.warning("Stripe customer %s of a purged trial was not deleted", customer_id)
    logger.info("purged the expired trial account of %s", email.split("@")[-1])
    return True
