"""Refunds (seeds 002, 004, 000): quote, request, issue once, review, retry, reconcile.

A refund is a RefundRequest row created under the invoice's lock (and a unique constraint:
one refund per payment, ever); its id is the Stripe idempotency key. The amount never
exceeds what is left of the charge, taxes excluded (002): localstripe would not stop us.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from subscriptions import emails, policy
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    LIVE_STATUSES,
    NOT_GROUNDS_FOR_REVIEW,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Price,
    RefundReason,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.money import format_money
from subscriptions.services import (
    SubscriptionError,
    audit,
    pending_changes_close,
    price_terms,
    void_open_invoices,
)

logger = logging.getLogger(__name__)

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
        tax=invoice.tax,
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


def _policy_quote(
    invoice: Invoice, now: datetime, skip_full_refunds: bool, price: Price | None = None
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
        guarantee_used=guarantee_used(user=user, invoice=invoice),
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
    *, invoice: Invoice, now: datetime, skip_full_refunds: bool = False
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
    take the full refund (guarantee or forgotten renewal) offered beside it."""
    none = PaymentsRefund(
        policy.RefundQuote(amount=0, currency=invoice.currency, rule="none", ends_at=None), (), None
    )
    if not _refundable(invoice):
        return none
    sub = invoice.subscription
    assert sub is not None  # noqa: S101 - _refundable checked it
    main, later = _period_payments(invoice)
    current = main is not None and _refundable(main) and (invoice == main or invoice in later)
    if current:
        assert main is not None  # noqa: S101 - just checked
        in_force = sub.price
        raw = _policy_quote(main, now, skip_full_refunds, in_force)
    else:
        main, later, in_force = invoice, [], None
        raw = _policy_quote(main, now, skip_full_refunds)
        if raw.rule != "guarantee":
            return none
    if raw.rule == "none":
        return none
    payments = [main, *later]
    if raw.rule == "guarantee":
        payments = list(
            Invoice.objects.filter(subscription=sub, status=InvoiceStatus.PAID)
            .select_related("price", "subscription", "user")
            .order_by("paid_at", "pk")
        )
    standing = RefundRequest.objects.filter(invoice__in=payments).exclude(
        status=RefundStatus.REJECTED
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
            amount = payment.total - payment.tax  # the service ends now: all of it
        elif payment.pk == main.pk:
            # Months already refunded on it (and charged again on keeping the subscription,
            # by a later payment refunded below) are not refunded twice.
            amount = raw.amount - already
        else:
            amount = policy.later_charge_refund(_charge(payment), service_ends=raw.ends_at or now)
        amount = min(amount, max(0, payment.total - payment.tax - already))
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
    return policy.explain(
        quote, user.language or translation.get_language() or "fr", tz=user.time_zone
    )


def existing_request(invoice: Invoice) -> RefundRequest | None:
    """The refund standing on this payment: not rejected, and not charged again since."""
    return (
        RefundRequest.objects.filter(invoice=invoice, charged_back_by__isnull=True)
        .exclude(status=RefundStatus.REJECTED)
        .first()
    )


# --- the customer's request ------------------------------------------------------------------


def refund_request_create(
    *,
    user: User,
    invoice: Invoice,
    reason: str,
    details: str,
    now: datetime,
    ends_at: datetime | None = None,
    skip_full_refunds: bool = False,
    quoted_at: datetime | None = None,
) -> RefundRequest:
    """The request on this payment (see `refund_requests_create`)."""
    rows = refund_requests_create(
        user=user,
        invoice=invoice,
        reason=reason,
        details=details,
        now=now,
        ends_at=ends_at,
        skip_full_refunds=skip_full_refunds,
        quoted_at=quoted_at,
    )
    return next((row for row in rows if row.invoice_id == invoice.pk), rows[0])


def refund_requests_create(
    *,
    user: User,
    invoice: Invoice,
    reason: str,
    details: str,
    now: datetime,
    ends_at: datetime | None = None,
    skip_full_refunds: bool = False,
    quoted_at: datetime | None = None,
) -> list[RefundRequest]:
    """Automatic rules are refunded at once through Stripe, on every payment of the period
    the rule reaches; a service fault outside them goes to staff review; other reasons are
    not grounds (002) and nothing is recorded. `ends_at` overrides when the service ends
    (a cancellation's date, or now when the account is closed); `quoted_at` is when the
    customer was shown the quote they confirm."""
    if invoice.user_id != user.pk or invoice.status != InvoiceStatus.PAID:
        raise SubscriptionError(_("This payment cannot be refunded."))
    if reason not in RefundReason.values:
        raise SubscriptionError(_("Please choose a reason."))
    result = payments_refund(
        invoice=invoice, now=quoted_at or now, skip_full_refunds=skip_full_refunds
    )
    quote = result.quote
    automatic = quote.rule in AUTOMATIC_RULES
    if existing_request(invoice) is not None and not (automatic and result.parts):
        raise SubscriptionError(_("A refund has already been requested for this payment."))
    if not automatic:
        if reason in NOT_GROUNDS_FOR_REVIEW:
            raise SubscriptionError(
                _(
                    "No refund is due for this payment under our policy, and this reason "
                    "cannot be reviewed for a refund."
                )
            )
        if not details.strip():
            raise SubscriptionError(
                _("Please describe the problem so that our team can review it.")
            )
    parts = result.parts if automatic else ((invoice, 0),)
    ends = (ends_at or quote.ends_at) if automatic else None
    rows = []
    try:
        with transaction.atomic():
            for payment, amount in sorted(parts, key=lambda part: part[0].pk):
                inv = Invoice.objects.select_for_update().get(pk=payment.pk)
                if existing_request(inv) is not None:
                    if inv.pk == invoice.pk:
                        raise SubscriptionError(
                            _("A refund has already been requested for this payment.")
                        )
                    continue
                rows.append(
                    RefundRequest.objects.create(
                        user=user,
                        invoice=inv,
                        subscription=inv.subscription,
                        reason=reason,
                        details=details[:5000],
                        rule=quote.rule if automatic else "review",
                        status=RefundStatus.PROCESSING if automatic else RefundStatus.REVIEW,
                        quoted_amount=amount,
                        amount=amount,
                        currency=inv.currency,
                        ends_at=ends,
                        # Should the worker die before asking Stripe, the retry task will.
                        next_attempt_at=now + IN_FLIGHT if automatic else None,
                        due_by=None
                        if automatic
                        else policy.business_day_deadline(
                            now, REVIEW_BUSINESS_DAYS, holiday_country(user.country), user.time_zone
                        ),
                    )
                )
                audit(
                    user=user,
                    kind="refund_requested",
                    subscription=inv.subscription,
                    invoice=inv.number,
                    rule=rows[-1].rule,
                    amount=amount,
                    currency=inv.currency,
                    reason=reason,
                )
            if not rows:
                raise SubscriptionError(_("A refund has already been requested for this payment."))
            if automatic and invoice.subscription is not None and ends is not None:
                _subscription_end(invoice.subscription, ends_at=ends, now=now, why="refund")
            if not automatic:
                emails.email_user(user, "refund_review_received", {"refund": rows[0]})
    except IntegrityError as exc:  # the other tab won
        raise SubscriptionError(_("A refund has already been requested for this payment.")) from exc
    if automatic:
        for row in rows:
            refund_execute(refund=row, now=now)
            row.refresh_from_db()
    return rows


def _subscription_end(
    subscription: Subscription, *, ends_at: datetime, now: datetime, why: str
) -> None:
    """End at once, or at `ends_at` (no further renewal in either case)."""
    sub = Subscription.objects.select_for_update(of=("self",)).get(pk=subscription.pk)
    if sub.status not in LIVE_STATUSES:
        return
    sub.next_billing_at = None
    sub.scheduled_price = None
    sub.cancel_requested_at = sub.cancel_requested_at or now
    sub.cancel_at = ends_at
    fields = ["next_billing_at", "scheduled_price", "cancel_requested_at", "cancel_at"]
    if ends_at <= now:
        sub.status = SubscriptionStatus.CANCELED
        sub.ended_at = now
        fields += ["status", "ended_at"]
        void_open_invoices(sub)
    sub.save(update_fields=fields)
    if ends_at <= now:
        pending_changes_close(sub)
    audit(
        user=sub.user,
        kind="subscription_ended" if ends_at <= now else "subscription_ends",
        subscription=sub,
        ends_at=ends_at.isoformat(),
        why=why,
    )


# --- issuing through Stripe -------------------------------------------------------------------


def refund_execute(*, refund: RefundRequest, now: datetime) -> RefundRequest:
    """Ask Stripe for the money back, once: the row is locked, its id is the idempotency key,
    and the amount is checked against what is left of the charge. A request asked before
    without an answer is first looked up at Stripe: made, it is recorded, not sent again."""
    try:
        if refund_made_already(refund=refund, now=now):
            return RefundRequest.objects.get(pk=refund.pk)
    except gateway.GatewayError as exc:
        return _retry_later(refund, exc, now)
    with transaction.atomic():
        ref = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if ref.status not in (RefundStatus.PROCESSING, RefundStatus.FAILED) or ref.stripe_refund_id:
            return ref
        in_flight = (
            ref.status == RefundStatus.PROCESSING
            and ref.attempts > 0
            and ref.next_attempt_at is not None
            and ref.next_attempt_at > now
        )
        if in_flight:
            return ref  # another worker is asking Stripe right now
        inv = Invoice.objects.select_for_update().get(pk=ref.invoice_id)
        # A payment for a change that was never made goes back whole, its tax included.
        cap = inv.total - inv.amount_refunded if ref.rule == UNAPPLIED else refundable_left(inv)
        if ref.amount > cap:
            ref.status = RefundStatus.FAILED
            ref.last_error = "amount exceeds what is left to refund"
            ref.next_attempt_at = None
            ref.save(update_fields=["status", "last_error", "next_attempt_at"])
            logger.error("refund %s refused: %s > %s", ref.pk, ref.amount, cap)
            return ref
        if ref.amount == 0:
            _refund_succeeded(ref, inv, stripe_refund_id="", now=now)
            return ref
        # "Processing" while Stripe is asked: "keep my subscription" charges it back rather
        # than cancelling it, and a worker that dies here is picked up by the retry task.
        ref.status = RefundStatus.PROCESSING
        ref.attempts += 1
        ref.next_attempt_at = now + IN_FLIGHT
        ref.save(update_fields=["status", "attempts", "next_attempt_at"])
        charge_id = inv.stripe_charge_id
    try:
        stripe_id = gateway.refund_create(
            charge_id=charge_id,
            amount=ref.amount,
            idempotency_key=ref.idempotency_key,
            metadata={"portal_refund": str(ref.pk), "portal_invoice": inv.number},
        )
    except gateway.GatewayError as exc:
        return _retry_later(ref, exc, now)
    try:
        # Stripe's own total, this refund included: `charge.refunded` may have been applied
        # already, and must not be counted twice.
        stripe_total: int | None = gateway.charge_amount_refunded(charge_id)
    except gateway.GatewayError:
        stripe_total = None
    with transaction.atomic():
        ref = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if ref.status == RefundStatus.SUCCEEDED:
            return ref  # recorded by another worker sending the same key
        inv = Invoice.objects.select_for_update().get(pk=ref.invoice_id)
        _refund_succeeded(ref, inv, stripe_refund_id=stripe_id, now=now, stripe_total=stripe_total)
    return ref


def _retry_later(refund: RefundRequest, exc: gateway.GatewayError, now: datetime) -> RefundRequest:
    """Stripe could not be reached: "failed, retrying" for the customer and staff."""
    with transaction.atomic():
        ref = (
            RefundRequest.objects.select_for_update(of=("self",))
            .select_related("invoice")
            .get(pk=refund.pk)
        )
        if ref.status not in (RefundStatus.PROCESSING, RefundStatus.FAILED):
            return ref  # made meanwhile, or held by "keep my subscription": left as it is
        delay = RETRY_DELAYS[max(0, min(ref.attempts, len(RETRY_DELAYS)) - 1)]
        ref.status = RefundStatus.FAILED
        ref.last_error = exc.message[:255]
        ref.next_attempt_at = now + delay
        ref.save(update_fields=["status", "last_error", "next_attempt_at"])
        audit(
            user=ref.user,
            kind="refund_failed",
            subscription=ref.subscription,
            invoice=ref.invoice.number,
            error=exc.code,
        )
    return ref


def refund_made_already(*, refund: RefundRequest, now: datetime) -> bool:
    """A request sent before without an answer (a timeout, a worker that died): if Stripe
    made it, it is recorded now (the `charge.refunded` webhook may have counted it already,
    which must not block it). Raises GatewayError when Stripe cannot tell."""
    ref = RefundRequest.objects.select_related("invoice").get(pk=refund.pk)
    pending = (RefundStatus.PROCESSING, RefundStatus.FAILED)
    if ref.attempts == 0 or ref.stripe_refund_id or ref.status not in pending:
        return False
    charge_id = ref.invoice.stripe_charge_id
    stripe_id = gateway.refund_find(charge_id=charge_id, refund_request_id=ref.pk)
    if stripe_id is None:
        return False
    try:
        stripe_total: int | None = gateway.charge_amount_refunded(charge_id)
    except gateway.GatewayError:
        stripe_total = None
    with transaction.atomic():
        ref = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if ref.status != RefundStatus.SUCCEEDED:
            inv = Invoice.objects.select_for_update().get(pk=ref.invoice_id)
            _refund_succeeded(
                ref, inv, stripe_refund_id=stripe_id, now=now, stripe_total=stripe_total
            )
    return True


def _refund_succeeded(
    ref: RefundRequest,
    inv: Invoice,
    *,
    stripe_refund_id: str,
    now: datetime,
    stripe_total: int | None = None,
) -> None:
    ref.status = RefundStatus.SUCCEEDED
    ref.stripe_refund_id = stripe_refund_id
    ref.refunded_at = now
    ref.next_attempt_at = None
    ref.last_error = ""
    ref.save(
        update_fields=["status", "stripe_refund_id", "refunded_at", "next_attempt_at", "last_error"]
    )
    if stripe_total is None:
        inv.amount_refunded += ref.amount
    else:
        inv.amount_refunded = max(inv.amount_refunded, stripe_total)
    inv.save(update_fields=["amount_refunded"])
    audit(
        user=ref.user,
        kind="refund_issued",
        subscription=ref.subscription,
        invoice=inv.number,
        amount=ref.amount,
        currency=ref.currency,
        rule=ref.rule,
    )
    emails.email_user(ref.user, "refund_issued", {"refund": ref, "invoice": inv})


def unapplied_change_refund(*, invoice: Invoice, now: datetime) -> RefundRequest:
    """A change's payment Stripe took without our hearing back, after the customer was told
    the change was not made: refunded in full, tax included, at once (no rule applies)."""
    with transaction.atomic():
        inv = Invoice.objects.select_for_update().get(pk=invoice.pk)
        inv.next_retry_at = None  # settled: nothing more to look at
        inv.save(update_fields=["next_retry_at"])
        existing = existing_request(inv)
        if existing is not None:
            return existing
        amount = inv.total - inv.amount_refunded
        assert inv.user is not None  # noqa: S101 - a paid invoice keeps its customer
        refund = RefundRequest.objects.create(
            user=inv.user,
            invoice=inv,
            subscription=inv.subscription,
            reason=RefundReason.BILLING_ERROR,
            details="Payment for a change that was not made (the payment service did not answer).",
            rule=UNAPPLIED,
            status=RefundStatus.PROCESSING,
            quoted_amount=amount,
            amount=amount,
            currency=inv.currency,
            next_attempt_at=now + IN_FLIGHT,
        )
        audit(
            user=inv.user,
            kind="refund_requested",
            subscription=inv.subscription,
            invoice=inv.number,
            rule=UNAPPLIED,
            amount=amount,
            currency=inv.currency,
            reason=RefundReason.BILLING_ERROR,
        )
    return refund_execute(refund=refund, now=now)


def refunds_retry(*, now: datetime) -> int:
    due = RefundRequest.objects.filter(
        status__in=(RefundStatus.FAILED, RefundStatus.PROCESSING), next_attempt_at__lte=now
    ).order_by("next_attempt_at")[:100]
    for refund in due:
        refund_execute(refund=refund, now=now)
    return len(due)


# --- staff review (002) ------------------------------------------------------------------------


def refund_review_decide(
    *,
    refund: RefundRequest,
    actor: User,
    approve: bool,
    amount: int,
    reason: str,
    now: datetime,
) -> RefundRequest:
    if not actor.has_perm("subscriptions.decide_refund"):
        raise SubscriptionError(_("You are not allowed to decide refunds."))
    with transaction.atomic():
        ref = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if ref.status != RefundStatus.REVIEW:
            raise SubscriptionError(_("This request has already been decided."))
        inv = Invoice.objects.select_for_update().get(pk=ref.invoice_id)
        if approve:
            left = refundable_left(inv)
            if amount <= 0 or amount > left:
                raise SubscriptionError(
                    _(
                        "The amount must be more than zero and at most what is left to refund, "
                        "%(left)s."
                    )
                    % {"left": format_money(left, inv.currency, translation.get_language() or "fr")}
                )
            ref.status = RefundStatus.PROCESSING
            ref.amount = amount
            ref.next_attempt_at = now + IN_FLIGHT
        else:
            if not reason.strip():
                raise SubscriptionError(_("Please write the reason for the rejection."))
            ref.status = RefundStatus.REJECTED
        ref.decided_by = actor
        ref.decided_at = now
        ref.decision_reason = reason.strip()
        ref.save(
            update_fields=[
                "status",
                "amount",
                "next_attempt_at",
                "decided_by",
                "decided_at",
                "decision_reason",
            ]
        )
        audit(
            user=ref.user,
            actor=actor,
            kind="refund_approved" if approve else "refund_rejected",
            subscription=ref.subscription,
            invoice=inv.number,
            amount=ref.amount,
        )
        if not approve:
            emails.email_user(ref.user, "refund_rejected", {"refund": ref, "invoice": inv})
    if approve:
        return refund_execute(refund=ref, now=now)
    return ref


# --- account closure (deletion) -----------------------------------------------------------------


@dataclass(frozen=True)
class ClosureRefund:
    subscription: Subscription
    invoice: Invoice
    amount: int
    currency: str
    rule: str
    explanation: str


def latest_payment(subscription: Subscription) -> Invoice | None:
    """The subscription's last paid invoice: a refund on it reaches the whole period."""
    return (
        Invoice.objects.filter(subscription=subscription, status=InvoiceStatus.PAID)
        .select_related("price", "subscription", "user")
        .order_by("-paid_at", "-pk")
        .first()
    )


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
            _subscription_end(sub, ends_at=now, now=now, why="account_deletion")
