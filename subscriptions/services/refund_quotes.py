"""What a refund would be: the rules of 002/004 applied to our invoices, nothing written."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.utils import translation

from accounts.models import User
from subscriptions import policy, wording
from subscriptions.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Price,
    RefundReason,
    RefundRequest,
    RefundStatus,
    Subscription,
)
from subscriptions.services.periods import price_terms

REVIEW_BUSINESS_DAYS = 5  # 002: "4 à 5 jours ouvrables"
RETRY_DELAYS = (
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
IN_FLIGHT = timedelta(minutes=10)  # a refund asked of Stripe longer ago than this was cut off
UNAPPLIED = "unapplied_change"
AUTOMATIC_RULES = ("guarantee", "renewal_grace", "remaining_months")
# The `holidays` package has no bank holiday common to the whole United Kingdom for Easter
# Monday or August: a British customer's business days are England's unless told otherwise.
HOLIDAY_REGIONS = {"GB": "GB-ENG"}


def holiday_country(country: str) -> str:
    return HOLIDAY_REGIONS.get(country, country)


def refundable_left(invoice: Invoice) -> int:
    return invoice.refundable_left


def guarantee_used(*, user: User, invoice: Invoice) -> bool:
    """002: a customer refunded under the guarantee for a plan has no guarantee on it again."""
    if invoice.price is None:
        return False
    return (
        RefundRequest.objects.filter(
            user=user,
            rule="guarantee",
            invoice__price__plan_id=invoice.price.plan_id,
        )
        .exclude(status=RefundStatus.REJECTED)
        .exclude(invoice=invoice)
        .exists()
    )


def _charge(invoice: Invoice) -> policy.Charge:
    return policy.Charge(
        total=invoice.total,
        paid_at=invoice.paid_at or invoice.issued_at,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        tax=invoice.kept_tax,
        currency=invoice.currency,
        is_renewal=invoice.kind == InvoiceKind.RENEWAL,
    )


def _terms(invoice: Invoice, skip_full_refunds: bool, price: Price | None = None) -> policy.Terms:
    """The terms of `price` (the plan in force) or else of the price the invoice billed."""
    price = price or invoice.price
    assert price is not None  # noqa: S101 - _refundable checked it
    terms = price_terms(price)
    if skip_full_refunds:
        terms = policy.Terms(
            interval=terms.interval,
            commitment_months=terms.commitment_months,
            guarantee_days=0,
            renewal_grace_business_days=0,
        )
    return terms


def _refundable(invoice: Invoice) -> bool:
    sub = invoice.subscription
    return (
        invoice.status == InvoiceStatus.PAID
        and invoice.paid_at is not None
        and invoice.price is not None
        and sub is not None
        and invoice.user is not None
        and sub.first_paid_at is not None
    )


T = TypeVar("T")

# What quotes read, kept for the next quote of the same request (a cancellation summary
# quotes the full refund and the plain one on the same payments): (kind, keys) -> rows.
Reads = dict[tuple[object, ...], Any]


def _once(reads: Reads | None, key: tuple[object, ...], read: Callable[[], T]) -> T:
    if reads is None:
        return read()
    if key not in reads:
        reads[key] = read()
    return cast(T, reads[key])


def _policy_quote(
    invoice: Invoice,
    now: datetime,
    skip_full_refunds: bool,
    price: Price | None = None,
    reads: Reads | None = None,
) -> policy.RefundQuote:
    """The policy's quote for one paid invoice at `now`, in the customer's country and zone,
    before what was already refunded is taken off."""
    user, sub = invoice.user, invoice.subscription
    assert user is not None  # noqa: S101 - _refundable checked it
    assert sub is not None  # noqa: S101 - _refundable checked it
    assert sub.first_paid_at is not None  # noqa: S101 - _refundable checked it
    return policy.refund_quote(
        _terms(invoice, skip_full_refunds, price),
        _charge(invoice),
        first_paid_at=sub.first_paid_at,
        now=now,
        guarantee_used=_once(
            reads,
            ("guarantee_used", invoice.pk),
            lambda: guarantee_used(user=user, invoice=invoice),
        ),
        country=holiday_country(user.country),
        tz=user.time_zone,
    )


@dataclass(frozen=True)
class PaymentsRefund:
    """What a refund asked on one payment gives back now: the rule is the period's main
    payment's, and it reaches the payments made later in the same period (an upgrade, months
    charged again on keeping the subscription), one refund per payment."""

    quote: policy.RefundQuote  # the total
    parts: tuple[tuple[Invoice, int], ...]
    holds_until: datetime | None


def _period_payments(invoice: Invoice) -> tuple[Invoice | None, list[Invoice]]:
    """The current period's main payment and the later ones of the same period."""
    sub = invoice.subscription
    if sub is None or sub.current_period_start is None or sub.current_period_end is None:
        return None, []
    paid = list(
        Invoice.objects.filter(
            subscription=sub,
            status=InvoiceStatus.PAID,
            period_start__gte=sub.current_period_start,
            period_end=sub.current_period_end,
        )
        .select_related("price", "subscription", "user")
        .order_by("paid_at", "pk")
    )
    mains = [i for i in paid if i.period_start == sub.current_period_start]
    if not mains:
        return None, []
    main = mains[-1]
    return main, [i for i in paid if i.period_start > main.period_start]


def payments_refund(
    *,
    invoice: Invoice,
    now: datetime,
    skip_full_refunds: bool = False,
    reads: Reads | None = None,
) -> PaymentsRefund:
    """The rule is decided on the current period's main payment, under the terms of the plan
    in force (an approved contract change lifts a commitment); it then reaches:
    - under the guarantee, every payment of the subscription (the service ends now, 004);
    - under the forgotten renewal, the renewal and the later payments of its period (002);
    - for the months left, the main payment by the months and the later payments pro rata
      by the second from the end of service (004).
    A payment of an earlier period is refunded on its own under the guarantee only: its
    months were credited to the current period when it was replaced.

    `skip_full_refunds` gives the quote of a plain cancellation when the customer did not
    take the full refund (guarantee or forgotten renewal) offered beside it. `reads`: a dict
    shared by the quotes of one request, so that the rows they all need are read once."""
    none = PaymentsRefund(
        policy.RefundQuote(amount=0, currency=invoice.currency, rule="none", ends_at=None), (), None
    )
    if not _refundable(invoice):
        return none
    sub = invoice.subscription
    assert sub is not None  # noqa: S101 - _refundable checked it
    main, later = _once(reads, ("period", invoice.pk), lambda: _period_payments(invoice))
    current = main is not None and _refundable(main) and (invoice == main or invoice in later)
    if current:
        assert main is not None  # noqa: S101 - just checked
        in_force = sub.price
        raw = _policy_quote(main, now, skip_full_refunds, in_force, reads)
    else:
        main, later, in_force = invoice, [], None
        raw = _policy_quote(main, now, skip_full_refunds, reads=reads)
        if raw.rule != "guarantee":
            return none
    if raw.rule == "none":
        return none
    payments = [main, *later]
    if raw.rule == "guarantee":
        payments = _once(
            reads,
            ("paid", sub.pk),
            lambda: list(
                Invoice.objects.filter(subscription=sub, status=InvoiceStatus.PAID)
                .select_related("price", "subscription", "user")
                .order_by("paid_at", "pk")
            ),
        )
    standing = _once(
        reads,
        ("standing", *(payment.pk for payment in payments)),
        lambda: list(
            RefundRequest.objects.filter(invoice__in=payments).exclude(status=RefundStatus.REJECTED)
        ),
    )
    requested = {r.invoice_id for r in standing if r.charged_back_by_id is None}
    # Refunds charged again ("keep my subscription") were given back, or are on their way:
    # what they took off a payment is not refunded twice.
    committed: dict[int, int] = {}
    for r in standing:
        committed[r.invoice_id] = committed.get(r.invoice_id, 0) + r.amount
    parts = []
    for payment in payments:
        if payment.pk in requested:
            continue
        already = max(payment.amount_refunded, committed.get(payment.pk, 0))
        if raw.rule in ("guarantee", "renewal_grace"):
            amount = payment.refundable_base  # the service ends now: all of it
        elif payment.pk == main.pk:
            # Months already refunded on it (and charged again on keeping the subscription,
            # by a later payment refunded below) are not refunded twice.
            amount = raw.amount - already
        else:
            amount = policy.later_charge_refund(_charge(payment), service_ends=raw.ends_at or now)
        amount = min(amount, max(0, payment.refundable_base - already))
        if amount > 0:
            parts.append((payment, amount))
    total = sum(amount for _payment, amount in parts)
    if total == 0:
        return none
    user = main.user
    assert user is not None  # noqa: S101 - _refundable checked it
    holds_until = policy.refund_quote_holds_until(
        _terms(main, skip_full_refunds, in_force),
        _charge(main),
        raw,
        first_paid_at=sub.first_paid_at,  # type: ignore[arg-type]
        country=holiday_country(user.country),
        tz=user.time_zone,
    )
    quote = policy.RefundQuote(
        amount=total, currency=main.currency, rule=raw.rule, ends_at=raw.ends_at
    )
    return PaymentsRefund(quote, tuple(parts), holds_until)


def refund_quote_for(
    *, invoice: Invoice, now: datetime, skip_full_refunds: bool = False
) -> policy.RefundQuote:
    """The share of `payments_refund` that falls on this one payment (staff's review view)."""
    result = payments_refund(invoice=invoice, now=now, skip_full_refunds=skip_full_refunds)
    amount = sum(a for payment, a in result.parts if payment.pk == invoice.pk)
    if amount == 0:
        return policy.RefundQuote(amount=0, currency=invoice.currency, rule="none", ends_at=None)
    return policy.RefundQuote(amount, invoice.currency, result.quote.rule, result.quote.ends_at)


def cancellation_refunds(subscription: Subscription) -> list[RefundRequest]:
    """The refunds made when this subscription's cancellation was recorded."""
    if subscription.cancel_at is None:
        return []
    return list(
        RefundRequest.objects.filter(
            subscription=subscription,
            reason=RefundReason.CANCELLATION,
            ends_at=subscription.cancel_at,
            charged_back_by__isnull=True,
        ).exclude(status=RefundStatus.REJECTED)
    )


def total(rows: list[RefundRequest]) -> policy.RefundQuote | None:
    """The refunds made together (one per payment of a period), as the customer sees them:
    one amount. None when there are none."""
    if not rows:
        return None
    first = rows[0]
    return policy.RefundQuote(
        sum(row.amount for row in rows), first.currency, first.rule, first.ends_at
    )


def explain(quote: policy.RefundQuote, user: User) -> str:
    return wording.explain(
        quote, user.language or translation.get_language() or "fr", tz=user.time_zone
    )


def existing_request(invoice: Invoice) -> RefundRequest | None:
    """The refund standing on this payment: not rejected, and not charged again since."""
    return (
        RefundRequest.objects.filter(invoice=invoice, charged_back_by__isnull=True)
        .exclude(status=RefundStatus.REJECTED)
        .first()
    )


def latest_payment(subscription: Subscription) -> Invoice | None:
    """The subscription's last paid invoice: a refund on it reaches the whole period."""
    return (
        Invoice.objects.filter(subscription=subscription, status=InvoiceStatus.PAID)
        .select_related("price", "subscription", "user")
        .order_by("-paid_at", "-pk")
        .first()
    )


def breakdown_for(
    payments: list[tuple[Invoice, int]] | tuple[tuple[Invoice, int], ...],
    *,
    counted: int = 0,
) -> policy.RefundBreakdown | None:
    """The payments a refund covers, each with its part, as one sentence's numbers: paid,
    refunded now, refunded before, kept. `counted`: how much of the parts the invoices'
    refunded amounts already include (the parts Stripe has made)."""
    if not payments:
        return None
    refunded = sum(amount for _inv, amount in payments)
    before = sum(inv.amount_refunded for inv, _amount in payments) - counted
    return policy.refund_breakdown(
        paid=sum(inv.amount_due for inv, _amount in payments),
        tax=sum(inv.kept_tax for inv, _amount in payments),
        refunded=refunded,
        currency=payments[0][0].currency,
        refunded_before=max(0, before),
    )
