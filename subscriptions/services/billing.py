"""The billing run (Celery beat): everything due, each item in its own transaction.

The top of the services: it calls the use cases, nothing imports it but tasks."""

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from celery.result import EagerResult
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet

from accounts import services as account_services
from subscriptions.models import (
    LIVE_STATUSES,
    RENEWAL_REMINDER_NOT_SENT,
    BillingAccount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Price,
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
# How many items of one step a run queues at most; the next run (5 minutes later) takes the
# rest. Each item is its own task, so the workers, not the run, do the work.
BATCH_SIZE = 20_000
# An item queued by one run is not queued again by an overlapping run for this long; the task
# frees it when done. The services lock the row and check again, so this only saves work.
CLAIM_SECONDS = 600
ITEM_TASK = "subscriptions.tasks.billing_item"


# --- the billing run (Celery beat) ------------------------------------------------------------


def _steps(now: datetime) -> list[tuple[str, QuerySet[Any], str]]:
    """Each step: its name, what is due (on its own index), the column it is due by."""
    trialing = Subscription.objects.filter(status=SubscriptionStatus.TRIALING)
    active = Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
    return [
        (
            "trial_warnings",
            trialing.filter(
                trial_warning_sent_at__isnull=True,
                next_billing_at__lte=now + timedelta(days=TRIAL_WARNING_DAYS),
            ),
            "next_billing_at",
        ),
        ("trials_ended", trialing.filter(next_billing_at__lte=now), "next_billing_at"),
        ("renewed", active.filter(next_billing_at__lte=now), "next_billing_at"),
        (
            "retried",
            Invoice.objects.filter(status=InvoiceStatus.OPEN, next_retry_at__lte=now).exclude(
                kind=InvoiceKind.PRORATION
            ),
            "next_retry_at",
        ),
        # A change's payment is never sent again: whether Stripe took it is looked up.
        (
            "changes_settled",
            Invoice.objects.filter(
                status__in=(InvoiceStatus.OPEN, InvoiceStatus.PAID),
                kind=InvoiceKind.PRORATION,
                next_retry_at__lte=now,
            ),
            "next_retry_at",
        ),
        # 002/004: reminders 7 days before a yearly renewal, 3 before a monthly one.
        *[
            (
                "reminders",
                active.filter(RENEWAL_REMINDER_NOT_SENT).filter(
                    # The prices of this interval (a handful), each read on the partial index.
                    price__in=Price.objects.filter(interval=interval).values("pk"),
                    next_billing_at__gt=now,
                    next_billing_at__lte=now + timedelta(days=days),
                ),
                "next_billing_at",
            )
            for interval, days in (("year", 7), ("month", 3))
        ],
        (
            "ended",
            Subscription.objects.filter(
                status__in=LIVE_STATUSES, cancel_at__isnull=False, cancel_at__lte=now
            ),
            "cancel_at",
        ),
        (
            "purged",
            Subscription.objects.filter(
                status=SubscriptionStatus.EXPIRED, purge_at__isnull=False, purge_at__lte=now
            ),
            "purge_at",
        ),
    ]


def billing_selects(*, now: datetime) -> list[tuple[str, QuerySet[Any]]]:
    """The select of each step, as the run issues it (the bench EXPLAINs them)."""
    return [
        (name, queryset.order_by(column).values_list("pk", flat=True)[:BATCH_SIZE])
        for name, queryset, column in _steps(now)
    ]


def due_pks(select: QuerySet[Any]) -> list[Any]:
    """One step's due items. On PostgreSQL in one serial plan: a partial index's predicate is
    not in the table's statistics, so with a million rows the planner expects thousands due
    where there are none and starts parallel workers, whose start (10-40 ms) costs far more
    than reading the index (under 0.1 ms)."""
    if connection.vendor != "postgresql":
        return list(select)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SERIAL_PLAN)
        return list(select)


SERIAL_PLAN = "SET LOCAL max_parallel_workers_per_gather = 0"


def billing_run(*, now: datetime) -> dict[str, int]:
    """Everything due at `now`: one task per item, so renewals spread over the workers. Every
    select is on a partial index of its due date, so the cost follows what is due, not the
    number of customers. An item already queued by an overlapping run is skipped; each item
    runs in its own transaction, and one that fails is logged and counted, never stopping
    the others. With eager tasks (tests), the counts are what was done; otherwise queued."""
    done: dict[str, int] = {"errors": 0}
    task = current_app.tasks[ITEM_TASK]
    # Step after step, as each step's select sees what the one before it did (when eager).
    for name, select in billing_selects(now=now):
        done.setdefault(name, 0)
        for pk in due_pks(select):
            if not cache.add(_claim_key(name, pk), now.isoformat(), timeout=CLAIM_SECONDS):
                continue  # queued by another run, not finished yet
            result = task.delay(step=name, pk=pk, now=now.isoformat())
            if isinstance(result, EagerResult):
                outcome = result.get()
                done[name] += outcome == "done"
                done["errors"] += outcome == "error"
            else:
                done[name] += 1
    done["refunds_retried"] = refunds_retry(now=now)
    return done


def billing_item(*, step: str, pk: int, now: datetime) -> str:
    """One due item in its own transaction(s): "done", "skipped" (no longer due, or done by
    another worker: the service checked under the row's lock) or "error" (logged)."""
    try:
        model = Invoice if step in ("retried", "changes_settled") else Subscription
        if step == "renewed":
            # The renewal reads and locks its row itself: no read before it.
            if subscription_renew(subscription=Subscription(pk=pk), now=now) is None:
                return "skipped"
            return "done"
        item = model.objects.filter(pk=pk).first()
        if item is None:
            return "skipped"
        return "done" if _act(step, item, now) else "skipped"
    except Exception:
        logger.exception("billing run: %s failed for %s %s", step, model.__name__, pk)
        return "error"
    finally:
        cache.delete(_claim_key(step, pk))


def _act(step: str, item: Any, now: datetime) -> bool:
    if step == "trial_warnings":
        return bool(trial_warn(subscription=item, now=now))
    if step == "trials_ended":
        return _trial_end(subscription=item, now=now)
    if step == "renewed":
        return subscription_renew(subscription=item, now=now) is not None
    if step == "retried":
        return bool(invoice_charge(invoice=item, trigger="retry", now=now))
    if step == "changes_settled":
        return bool(change_payment_settle(invoice=item, now=now))
    if step == "reminders":
        return bool(renewal_remind(subscription=item, now=now))
    if step == "ended":
        return bool(subscription_end_due(subscription=item, now=now))
    if step == "purged":
        return bool(account_services.expired_trial_purge(subscription=item, now=now))
    raise ValueError(f"unknown billing step {step!r}")


def _claim_key(step: str, pk: int) -> str:
    return f"billing:{step}:{pk}"


def _trial_end(*, subscription: Subscription, now: datetime) -> bool:
    """001: with a plan and a card the first invoice is charged; without, the trial expires."""
    account = BillingAccount.objects.filter(user_id=subscription.user_id).first()
    cancelled = subscription.cancel_at is not None  # 003: a cancelled trial is never billed
    if subscription.price_id and account is not None and account.has_card and not cancelled:
        trial_convert(subscription=subscription, now=now)
        return True
    return trial_expire(subscription=subscription, now=now)
