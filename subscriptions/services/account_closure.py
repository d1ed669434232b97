"""Account closure: every subscription ends now, with the refunds the rules give."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from accounts.models import User
from subscriptions.models import LIVE_STATUSES, Invoice, RefundReason, Subscription
from subscriptions.services.refund_quotes import explain, latest_payment, payments_refund
from subscriptions.services.refunds import refund_requests_create, subscription_end

# --- account closure (deletion) -----------------------------------------------------------------


@dataclass(frozen=True)
class ClosureRefund:
    subscription: Subscription
    invoice: Invoice
    amount: int
    currency: str
    rule: str
    explanation: str


def account_closure_preview(*, user: User, now: datetime) -> list[ClosureRefund]:
    """What closing the account now would refund, one line per subscription with a refund."""
    result = []
    live = Subscription.objects.filter(user=user, status__in=LIVE_STATUSES)
    for sub in live.select_related("user"):
        invoice = latest_payment(sub)
        if invoice is None:
            continue
        quote = payments_refund(invoice=invoice, now=now).quote
        if quote.rule == "none" or quote.amount == 0:
            continue
        result.append(
            ClosureRefund(
                sub, invoice, quote.amount, quote.currency, quote.rule, explain(quote, user)
            )
        )
    return result


def account_closure(*, user: User, now: datetime, actor: User | None = None) -> None:
    """Deleting the account ends every subscription now, with the refund the rules give."""
    for item in account_closure_preview(user=user, now=now):
        refund_requests_create(
            user=user,
            invoice=item.invoice,
            reason=RefundReason.ACCOUNT_DELETION,
            details="",
            now=now,
            ends_at=now,
        )
    with transaction.atomic():
        for sub in Subscription.objects.filter(user=user, status__in=LIVE_STATUSES):
            subscription_end(sub, ends_at=now, now=now, why="account_deletion")
