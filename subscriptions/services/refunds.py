"""Refund requests: creating them, issuing them through Stripe, staff review (002, 004)."""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    LIVE_STATUSES,
    NOT_GROUNDS_FOR_REVIEW,
    CreditNote,
    Invoice,
    InvoiceStatus,
    RefundReason,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.money import format_money
from subscriptions.services.auditing import audit
from subscriptions.services.credit_notes import credit_note_issue
from subscriptions.services.errors import SubscriptionConflict, SubscriptionError
from subscriptions.services.invoices import credit_give_back, void_open_invoices
from subscriptions.services.periods import pending_changes_close
from subscriptions.services.refund_quotes import (
    AUTOMATIC_RULES,
    IN_FLIGHT,
    RETRY_DELAYS,
    REVIEW_BUSINESS_DAYS,
    UNAPPLIED,
    breakdown_for,
    existing_request,
    holiday_country,
    payments_refund,
    refundable_left,
)

logger = logging.getLogger(__name__)


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
    send: bool = True,
) -> list[RefundRequest]:
    """Automatic rules are refunded at once through Stripe, on every payment of the period
    the rule reaches; a service fault outside them goes to staff review; other reasons are
    not grounds (002) and nothing is recorded. `ends_at` overrides when the service ends
    (a cancellation's date, or now when the account is closed); `quoted_at` is when the
    customer was shown the quote they confirm. `send=False` records the requests only, inside
    the caller's transaction; the caller sends them after its commit (`refunds_send`)."""
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
        raise SubscriptionConflict(_("A refund has already been requested for this payment."))
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
                        raise SubscriptionConflict(
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
                raise SubscriptionConflict(
                    _("A refund has already been requested for this payment.")
                )
            if automatic and invoice.subscription is not None and ends is not None:
                subscription_end(invoice.subscription, ends_at=ends, now=now, why="refund")
            if not automatic:
                emails.email_user(user, "refund_review_received", {"refund": rows[0]})
                for row in rows:
                    emails.email_staff(
                        emails.STAFF_BILLING,
                        "staff_refund_review",
                        {"refund": row, "refund_pk": str(row.pk)},
                    )
    except IntegrityError as exc:  # the other tab won
        raise SubscriptionConflict(
            _("A refund has already been requested for this payment.")
        ) from exc
    if automatic and send:
        refunds_send(rows=rows, now=now)
    return rows


def refunds_send(*, rows: list[RefundRequest], now: datetime) -> None:
    """Ask Stripe for the refunds recorded by `refund_requests_create(send=False)`; outside
    any transaction, each with its own idempotency key. One e-mail for the request; a part
    still retrying is e-mailed once it is made."""
    for row in rows:
        if row.status == RefundStatus.PROCESSING:
            refund_execute(refund=row, now=now, notify=False)
            row.refresh_from_db()
    refunds_issued_email([row for row in rows if row.status == RefundStatus.SUCCEEDED])


def subscription_end(
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


def refund_execute(*, refund: RefundRequest, now: datetime, notify: bool = True) -> RefundRequest:
    """Ask Stripe for the money back, once: the row is locked, its id is the idempotency key,
    and the amount is checked against what is left of the charge. A request asked before
    without an answer is first looked up at Stripe: made, it is recorded, not sent again."""
    try:
        if refund_made_already(refund=refund, now=now, notify=notify):
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
        cap = (
            inv.amount_due - inv.amount_refunded if ref.rule == UNAPPLIED else refundable_left(inv)
        )
        if ref.amount > cap:
            ref.status = RefundStatus.FAILED
            ref.last_error = "amount exceeds what is left to refund"
            ref.next_attempt_at = None
            ref.save(update_fields=["status", "last_error", "next_attempt_at"])
            logger.error("refund %s refused: %s > %s", ref.pk, ref.amount, cap)
            return ref
        if ref.amount == 0:
            _refund_succeeded(ref, inv, stripe_refund_id="", now=now, notify=notify)
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
        _refund_succeeded(
            ref, inv, stripe_refund_id=stripe_id, now=now, stripe_total=stripe_total, notify=notify
        )
    return ref


def _retry_later(refund: RefundRequest, exc: gateway.GatewayError, now: datetime) -> RefundRequest:
    """Stripe could not be reached: "failed, retrying" for the customer and staff."""
    with transaction.atomic():
        ref = lock(RefundRequest, refund.pk, "invoice")
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


def refund_made_already(*, refund: RefundRequest, now: datetime, notify: bool = True) -> bool:
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
                ref,
                inv,
                stripe_refund_id=stripe_id,
                now=now,
                stripe_total=stripe_total,
                notify=notify,
            )
    return True


def _refund_succeeded(
    ref: RefundRequest,
    inv: Invoice,
    *,
    stripe_refund_id: str,
    now: datetime,
    stripe_total: int | None = None,
    notify: bool = True,
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
    credit_note_issue(invoice=inv, amount=ref.amount, now=now, refund=ref)
    audit(
        user=ref.user,
        kind="refund_issued",
        subscription=ref.subscription,
        invoice=inv.number,
        amount=ref.amount,
        currency=ref.currency,
        rule=ref.rule,
    )
    if notify:
        refunds_issued_email([ref])


def refunds_issued_email(rows: list[RefundRequest]) -> None:
    """One e-mail per refund request (002), however many payments it covers: the total, each
    payment, and what was paid and kept."""
    if not rows:
        return
    first = rows[0]
    notes = list(CreditNote.objects.filter(refund__in=rows).order_by("pk"))
    emails.email_user(
        first.user,
        "refund_issued",
        {
            "refund": first,
            "invoice": first.invoice,
            "refunds": rows,
            "total": sum(r.amount for r in rows),
            "breakdown": breakdown_for(
                [(r.invoice, r.amount) for r in rows], counted=sum(r.amount for r in rows)
            ),
            "credit_note": notes[0] if notes else None,
            "credit_notes": notes,
        },
        attachments=[(emails.CREDIT_NOTE_PDF, note.pk) for note in notes] or None,
    )


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
        amount = inv.amount_due - inv.amount_refunded
        credit_give_back(inv)  # the change was not made: its credit goes back
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
            raise SubscriptionConflict(_("This request has already been decided."))
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
