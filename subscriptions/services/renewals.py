"""Renewals (000, 002, 004): the next period's invoice, its charge and the reminder."""

from datetime import datetime

from django.db import transaction

from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.models import Invoice, InvoiceKind, Subscription, SubscriptionStatus
from subscriptions.services.auditing import audit, audit_event
from subscriptions.services.invoices import invoice_issue, period_amounts
from subscriptions.services.payments import (
    STRIPE_UNREACHABLE_RETRY,
    attempt_open,
    attempt_send,
)
from subscriptions.services.periods import period_bounds, price_terms

# --- renewals (000, 002, 004) ----------------------------------------------------------------


def subscription_renew(*, subscription: Subscription, now: datetime) -> Invoice | None:
    """Charged in advance on the same day each month or year: issue the next period's
    invoice and charge it. Running twice, or on two workers, bills the period once.

    One transaction moves the subscription into the new period (its next billing date
    included: a failed payment takes it back, `_invoice_failed`), issues the invoice and opens
    the attempt whose key Stripe is sent; Stripe is called after it commits, and a success
    marks the attempt and the invoice paid (issue 18: ten queries in all)."""
    with transaction.atomic():
        sub = lock(
            Subscription,
            subscription.pk,
            "price__plan",
            "plan",
            "scheduled_price__plan",
            "user__billing",
        )
        if (
            sub.status != SubscriptionStatus.ACTIVE
            or sub.cancel_at is not None
            or sub.next_billing_at is None
            or sub.next_billing_at > now
            or sub.price is None
            or sub.anchor_at is None
        ):
            return None
        events = []
        if sub.scheduled_price is not None:
            # 004: a downgrade starts with the next billing period.
            events.append(
                audit_event(
                    user=sub.user,
                    kind="plan_changed",
                    subscription=sub,
                    old=sub.plan.name_en,
                    new=sub.scheduled_price.plan.code,
                    scheduled=True,
                )
            )
            if sub.scheduled_price.interval != sub.price.interval:
                sub.anchor_at, sub.period_index = sub.next_billing_at, -1
            sub.price, sub.plan = sub.scheduled_price, sub.scheduled_price.plan
            sub.scheduled_price = None
        sub.period_index += 1
        sub.current_period_start, sub.current_period_end = period_bounds(
            anchor=sub.anchor_at, index=sub.period_index, price=sub.price
        )
        sub.next_billing_at = sub.current_period_end
        invoice = invoice_issue(
            subscription=sub,
            kind=InvoiceKind.RENEWAL,
            period_start=sub.current_period_start,
            period_end=sub.current_period_end,
            now=now,
            # Should this worker die before Stripe answers, the billing run sends it again.
            next_retry_at=now + STRIPE_UNREACHABLE_RETRY,
            save_subscription=False,
            events=tuple(events),
        )
        sub.save(
            update_fields=[
                "anchor_at",
                "period_index",
                "price",
                "plan",
                "scheduled_price",
                "current_period_start",
                "current_period_end",
                "next_billing_at",
                "free_months",
                "credit",
            ]
        )
        account = getattr(sub.user, "billing", None)
        attempt = attempt_open(
            invoice=invoice, last=None, account=account, trigger="renewal", now=now
        )
    attempt_send(attempt=attempt, invoice=invoice, account=account, now=now, renewed=sub)
    return invoice


def renewal_remind(*, subscription: Subscription, now: datetime) -> bool:
    """002/004: before each renewal, an e-mail with the amount and the date; once per period."""
    with transaction.atomic():
        sub = lock(
            Subscription, subscription.pk, "price", "price__plan", "scheduled_price__plan", "user"
        )
        due = sub.next_billing_at
        if (
            sub.status != SubscriptionStatus.ACTIVE
            or sub.cancel_at is not None
            or due is None
            or sub.price is None
            or sub.renewal_reminder_sent_for == due
            or policy.renewal_reminder_at(price_terms(sub.price), period_end=due) > now
            or due <= now
        ):
            return False
        sub.renewal_reminder_sent_for = due
        sub.save(update_fields=["renewal_reminder_sent_for"])
        # What will be billed: a scheduled downgrade starts with this renewal (004), free
        # months come off and the account's credit settles what it can, as the renewal bills.
        price = sub.scheduled_price or sub.price
        total, from_credit, by_card = period_amounts(sub, price, sub.user)
        audit(user=sub.user, kind="renewal_reminder_sent", subscription=sub, due=due.isoformat())
        emails.email_user(
            sub.user,
            "renewal_reminder",
            {
                "subscription": sub,
                "plan": price.plan,
                "amount": by_card,
                "total": total,
                "from_credit": from_credit,
                "due": due,
            },
        )
    return True
