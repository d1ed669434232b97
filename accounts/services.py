import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import PROFILE_FIELDS, User
from subscriptions.gateways import stripe as gateway
from subscriptions.models import BillingAccount, Invoice, Subscription, SubscriptionStatus
from subscriptions.services.auditing import audit

logger = logging.getLogger(__name__)


def user_language_set(*, user: User, language: str) -> None:
    """Remember the customer's language: pages and e-mails use it from now on."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unsupported language: {language}")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])


def profile_update(*, user: User, data: Mapping[str, str]) -> list[str]:
    """Save the customer's own changes to their profile; returns the names of the fields that
    changed, in PROFILE_FIELDS order. One audit event per save that changes something: it
    records which fields changed, never their old or new values (personal data)."""
    unknown = set(data) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"Not profile fields: {sorted(unknown)}")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        changed = [
            name for name in PROFILE_FIELDS if name in data and getattr(locked, name) != data[name]
        ]
        if not changed:
            return []
        others = [name for name in changed if name != "language"]
        if others:
            for name in others:
                setattr(locked, name, data[name])
            # The form has validated already; this keeps the service safe for other callers.
            locked.clean_fields(
                exclude=[f.name for f in User._meta.concrete_fields if f.name not in others]
            )
            locked.save(update_fields=others)
        if "language" in changed:
            user_language_set(user=locked, language=data["language"])
        audit(user=locked, actor=locked, kind="profile_updated", changes=changed)
    for name in changed:
        setattr(user, name, getattr(locked, name))
    return changed


def expired_trial_purge(*, subscription: Subscription, now: datetime) -> bool:
    """001: a trial that ended without a subscription has its data deleted after the grace
    period. A customer who never paid has no invoice to keep: the account goes entirely; the
    trial claim (a hash of the e-mail) stays so the trial cannot be taken again."""
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


def email_change_audit(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """A verified new e-mail address replaced the old one (allauth): on the timeline, without
    the addresses themselves."""
    audit(user=user, actor=user, kind="profile_updated", changes=["email"])
