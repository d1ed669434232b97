"""The 15-day trial without a card: start, warning and expiry (001)."""

import hashlib
from datetime import datetime

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.models import (
    LIVE_STATUSES,
    BillingAccount,
    Plan,
    Subscription,
    SubscriptionStatus,
    TrialClaim,
)
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionError

TRIAL_DAYS = 15  # 001
TRIAL_WARNING_DAYS = 3  # 001: "quelques jours avant la fin"


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


# --- trial (001) -----------------------------------------------------------------------------


def trial_start(*, user: User, plan: Plan, now: datetime) -> Subscription:
    """A 15-day trial without a card; one per customer (same e-mail, or later same card)."""
    if not EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists():
        raise SubscriptionError(_("Please verify your e-mail address before starting a trial."))
    dates = policy.trial_dates(now, length_days=TRIAL_DAYS, warning_days=TRIAL_WARNING_DAYS)
    with transaction.atomic():
        User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        if Subscription.objects.filter(user=user, status__in=LIVE_STATUSES).exists():
            raise SubscriptionError(_("You already have a subscription."))
        billing = BillingAccount.objects.filter(user=user).first()
        used = TrialClaim.objects.filter(email_hash=email_hash(user.email)).exists() or (
            billing is not None
            and billing.card_fingerprint != ""
            and TrialClaim.objects.filter(card_fingerprint=billing.card_fingerprint).exists()
        )
        if used:
            raise SubscriptionError(
                _("You have already used your free trial: you can subscribe to a plan instead.")
            )
        try:
            with transaction.atomic():
                TrialClaim.objects.create(
                    email_hash=email_hash(user.email),
                    card_fingerprint=billing.card_fingerprint if billing else "",
                )
        except IntegrityError as exc:
            raise SubscriptionError(
                _("You have already used your free trial: you can subscribe to a plan instead.")
            ) from exc
        subscription = Subscription.objects.create(
            user=user,
            plan=plan,
            status=SubscriptionStatus.TRIALING,
            currency=_default_currency(user),
            trial_started_at=now,
            trial_ends_at=dates.ends_at,
            next_billing_at=dates.ends_at,
        )
        audit(
            user=user,
            kind="trial_started",
            subscription=subscription,
            plan=plan.code,
            ends_at=dates.ends_at.isoformat(),
        )
        emails.email_user(user, "trial_started", {"subscription": subscription})
    return subscription


def _default_currency(user: User) -> str:
    return {"GB": "GBP", "US": "USD"}.get(user.country, "EUR")


def trial_warn(*, subscription: Subscription, now: datetime) -> bool:
    """001: a warning e-mail 3 days before the trial ends; sent once."""
    with transaction.atomic():
        sub = lock(Subscription, subscription.pk, "user", "price")
        if sub.status != SubscriptionStatus.TRIALING or sub.trial_warning_sent_at:
            return False
        sub.trial_warning_sent_at = now
        sub.save(update_fields=["trial_warning_sent_at"])
        audit(user=sub.user, kind="trial_warning_sent", subscription=sub)
        emails.email_user(
            sub.user,
            "trial_ending",
            {"subscription": sub, "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS},
        )
    return True


def trial_expire(*, subscription: Subscription, now: datetime) -> bool:
    """A trial that ends without a plan and a card: read-only, data deleted after a grace."""
    dates = policy.trial_dates(
        subscription.trial_started_at or now,
        length_days=TRIAL_DAYS,
        warning_days=TRIAL_WARNING_DAYS,
        purge_grace_days=settings.TRIAL_PURGE_GRACE_DAYS,
    )
    with transaction.atomic():
        sub = lock(Subscription, subscription.pk, "user")
        if sub.status != SubscriptionStatus.TRIALING:
            return False
        sub.status = SubscriptionStatus.EXPIRED
        sub.ended_at = now
        sub.next_billing_at = None
        sub.purge_at = dates.purge_at
        sub.save(update_fields=["status", "ended_at", "next_billing_at", "purge_at"])
        audit(
            user=sub.user,
            kind="trial_expired",
            subscription=sub,
            purge_at=dates.purge_at.isoformat(),
        )
        emails.email_user(sub.user, "trial_expired", {"subscription": sub})
    return True
