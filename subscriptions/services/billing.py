"""The billing run (Celery beat): everything due, each item in its own transaction.

The top of the services: it calls the use cases, nothing imports it but tasks."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q

from accounts import services as account_services
from subscriptions.models import (
    LIVE_STATUSES,
    BillingAccount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.cancellation import subscription_end_due
from subscriptions.services.checkout import trial_convert
from subscriptions.services.payments import invoice_charge
from subscriptions.services.plan_changes import change_payment_settle
from subscriptions.services.refunds import refunds_retry
from subscriptions.services.renewals import renewal_remind, subscription_renew
from subscriptions.services.trials import TRIAL_WARNING_DAYS, trial_expire, trial_warn

logger = logging.getLogger(__name__)
BATCH_SIZE = 200


# --- the billing run (Celery beat) ------------------------------------------------------------


def billing_run(*, now: datetime) -> dict[str, int]:
    """Everything due at `now`, each item in its own transaction. Every query is on an
    indexed due date, so the cost follows what is due, not the number of customers. One
    item that fails is logged and counted; it never stops the others."""

    done: dict[str, int] = {"errors": 0}
    trialing = Subscription.objects.filter(status=SubscriptionStatus.TRIALING)
    active = Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
    reminder_not_sent = Q(renewal_reminder_sent_for__isnull=True) | ~Q(
        renewal_reminder_sent_for=F("next_billing_at")
    )
    steps: list[tuple[str, Any, Any]] = [
        (
            "trial_warnings",
            trialing.filter(
                next_billing_at__lte=now + timedelta(days=TRIAL_WARNING_DAYS),
                trial_warning_sent_at__isnull=True,
            ),
            lambda sub: trial_warn(subscription=sub, now=now),
        ),
        (
            "trials_ended",
            trialing.filter(next_billing_at__lte=now),
            lambda sub: _trial_end(subscription=sub, now=now),
        ),
        (
            "renewed",
            active.filter(next_billing_at__lte=now),
            lambda sub: subscription_renew(subscription=sub, now=now) is not None,
        ),
        (
            "retried",
            Invoice.objects.filter(status=InvoiceStatus.OPEN, next_retry_at__lte=now).exclude(
                kind=InvoiceKind.PRORATION
            ),
            lambda invoice: invoice_charge(invoice=invoice, trigger="retry", now=now),
        ),
        # A change's payment is never sent again: whether Stripe took it is looked up.
        (
            "changes_settled",
            Invoice.objects.filter(
                status__in=(InvoiceStatus.OPEN, InvoiceStatus.PAID),
                kind=InvoiceKind.PRORATION,
                next_retry_at__lte=now,
            ),
            lambda invoice: change_payment_settle(invoice=invoice, now=now),
        ),
        # 002/004: reminders 7 days before a yearly renewal, 3 before a monthly one.
        *[
            (
                "reminders",
                active.filter(
                    price__interval=interval,
                    next_billing_at__gt=now,
                    next_billing_at__lte=now + timedelta(days=days),
                ).filter(reminder_not_sent),
                lambda sub: renewal_remind(subscription=sub, now=now),
            )
            for interval, days in (("year", 7), ("month", 3))
        ],
        (
            "ended",
            Subscription.objects.filter(status__in=LIVE_STATUSES, cancel_at__lte=now),
            lambda sub: subscription_end_due(subscription=sub, now=now),
        ),
        (
            "purged",
            Subscription.objects.filter(status=SubscriptionStatus.EXPIRED, purge_at__lte=now),
            lambda sub: account_services.expired_trial_purge(subscription=sub, now=now),
        ),
    ]
    for name, queryset, step in steps:
        done.setdefault(name, 0)
        for item in _due(queryset):
            try:
                done[name] += bool(step(item))
            except Exception:
                logger.exception(
                    "billing run: %s failed for %s %s", name, type(item).__name__, item.pk
                )
                done["errors"] += 1
    done["refunds_retried"] = refunds_retry(now=now)
    return done


def _trial_end(*, subscription: Subscription, now: datetime) -> bool:
    """001: with a plan and a card the first invoice is charged; without, the trial expires."""
    account = BillingAccount.objects.filter(user_id=subscription.user_id).first()
    cancelled = subscription.cancel_at is not None  # 003: a cancelled trial is never billed
    if subscription.price_id and account is not None and account.has_card and not cancelled:
        trial_convert(subscription=subscription, now=now)
        return True
    return trial_expire(subscription=subscription, now=now)


def _due(queryset: Any) -> list[Any]:
    return list(queryset.order_by("pk")[:BATCH_SIZE])
