"""Charging an invoice through Stripe, applying the result, and syncing it back.

Stripe is called outside the transaction with an idempotency key from our own attempt row."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    LIVE_STATUSES,
    AttemptStatus,
    BillingAccount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.auditing import audit
from subscriptions.services.credit_notes import credit_note_issue
from subscriptions.services.errors import QuoteChanged, SubscriptionError

# --- charging --------------------------------------------------------------------------------


# Charges made by the billing run, with nobody on the page to be told "add a card".
UNATTENDED_TRIGGERS = ("renewal", "retry", "trial_end")


def invoice_charge(*, invoice: Invoice, trigger: str, now: datetime) -> PaymentAttempt:
    """Charge an open invoice on the saved card, once: the attempt row is created under the
    invoice's lock and gives the idempotency key, so two workers never charge twice."""
    settled = _unanswered_try_settled(invoice, now)
    if settled is not None:
        return settled
    with transaction.atomic():
        inv = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
        last = inv.attempts.order_by("-number").first()
        if inv.status != InvoiceStatus.OPEN:
            if last is None:
                raise SubscriptionError(_("This invoice cannot be paid."))
            return last
        if (
            last is not None
            and last.status == AttemptStatus.PENDING
            and last.created_at > timezone.now() - STALE_ATTEMPT
        ):
            return last  # another worker is charging it right now
        account = BillingAccount.objects.filter(user__invoices=inv).first()
        attempt = attempt_open(invoice=inv, last=last, account=account, trigger=trigger, now=now)
    return attempt_send(attempt=attempt, invoice=inv, account=account, now=now)


def attempt_open(
    *,
    invoice: Invoice,
    last: PaymentAttempt | None,
    account: BillingAccount | None,
    trigger: str,
    now: datetime,
) -> PaymentAttempt:
    """In the transaction that holds the open invoice (locked, or issued in it): the attempt
    row whose key Stripe is sent. `last`: the invoice's latest attempt. An invoice with
    nothing to charge (a free month, 003, or a credit covered it) is paid here."""
    if invoice.amount_due == 0:
        attempt = PaymentAttempt.objects.create(
            invoice=invoice,
            number=(last.number + 1) if last else 1,
            amount=0,
            currency=invoice.currency,
            trigger=trigger,
            status=AttemptStatus.SUCCEEDED,
        )
        _invoice_paid(invoice=invoice, charge_id="", now=now)
        return attempt
    has_card = account is not None and account.has_card
    if not has_card and trigger not in UNATTENDED_TRIGGERS:
        raise SubscriptionError(_("Please add a card first."))
    card = account.payment_method_id if account is not None and has_card else ""
    if last is not None and _may_have_reached_stripe(last) and last.payment_method_id == card:
        # The last try may have been taken by Stripe without our hearing back (a crash, a
        # timeout): send it again under the same idempotency key, so it is charged once.
        attempt = last
        attempt.status = AttemptStatus.PENDING
        attempt.failure_code = attempt.failure_message = ""
        attempt.created_at = timezone.now()  # sent again now: a second click waits for it
        attempt.save(update_fields=["status", "failure_code", "failure_message", "created_at"])
    else:
        attempt = PaymentAttempt.objects.create(
            invoice=invoice,
            number=(last.number + 1) if last else 1,
            amount=invoice.amount_due,
            currency=invoice.currency,
            trigger=trigger,
            payment_method_id=card,
        )
    if invoice.kind != InvoiceKind.PRORATION and not _checkout_waiting(invoice):
        # Should this worker die before Stripe answers, the billing run sends the same
        # attempt again later; any answer below replaces this date.
        retry_at = max(invoice.next_retry_at or now, now + STRIPE_UNREACHABLE_RETRY)
        if invoice.next_retry_at != retry_at:
            invoice.next_retry_at = retry_at
            invoice.save(update_fields=["next_retry_at"])
    return attempt


def attempt_send(
    *,
    attempt: PaymentAttempt,
    invoice: Invoice,
    account: BillingAccount | None,
    now: datetime,
    renewed: Subscription | None = None,
) -> PaymentAttempt:
    """After the attempt's transaction committed: send it to Stripe and record the answer.
    `renewed`: the subscription a renewal's invoice was just issued for, already running into
    the period it pays for (see `renewal_paid`)."""
    if attempt.status != AttemptStatus.PENDING:
        return attempt  # nothing to charge: paid when it was opened
    if account is None or not account.has_card:
        # A renewal with no card left (removed, or the account closed at Stripe): a failed
        # payment like any other, so the customer is e-mailed and retries follow (004).
        missing = gateway.PaymentResult(
            payment_intent_id="",
            status="failed",
            failure_code="no_card",
            failure_message="No card is saved on your account.",
        )
        return payment_result_apply(attempt=attempt, result=missing, now=now)
    try:
        result = gateway.payment_charge(
            customer_id=account.stripe_customer_id,
            payment_method_id=account.payment_method_id,
            amount=attempt.amount,
            currency=attempt.currency,
            idempotency_key=attempt.idempotency_key,
            description=f"Invoice {invoice.number}",
            metadata={"portal_invoice": invoice.number, "portal_attempt": str(attempt.pk)},
        )
    except gateway.GatewayError as exc:
        # Stripe could not be reached: no money moved. Not the customer's failure: no
        # e-mail, no dunning step; the billing run tries again within the hour.
        return _attempt_unreachable(attempt=attempt, message=exc.message, now=now)
    if renewed is not None and renewal_paid(
        attempt=attempt, invoice=invoice, subscription=renewed, result=result, now=now
    ):
        return attempt
    return payment_result_apply(attempt=attempt, result=result, now=now)


def renewal_paid(
    *,
    attempt: PaymentAttempt,
    invoice: Invoice,
    subscription: Subscription,
    result: gateway.PaymentResult,
    now: datetime,
) -> bool:
    """A renewal's first try taken by Stripe: the attempt and the invoice are marked paid in
    two conditional writes, and the subscription, which already runs into the new period,
    is left as it is. False (nothing written) for any other answer, or when another worker or
    Stripe's webhook recorded the attempt first: `payment_result_apply` then decides."""
    if result.status != "succeeded":
        return False
    with transaction.atomic():
        took = PaymentAttempt.objects.filter(pk=attempt.pk, status=AttemptStatus.PENDING).update(
            status=AttemptStatus.SUCCEEDED, payment_intent_id=result.payment_intent_id
        )
        if not took:
            return False
        attempt.status = AttemptStatus.SUCCEEDED
        attempt.payment_intent_id = invoice.stripe_payment_intent_id = result.payment_intent_id
        _invoice_paid(invoice=invoice, charge_id=result.charge_id, now=now, renewed=subscription)
    return True


STRIPE_UNREACHABLE_RETRY = timedelta(hours=1)
# A try still "in progress" after this long was interrupted (a worker died mid-call).
STALE_ATTEMPT = timedelta(minutes=10)


def _unanswered_try_settled(invoice: Invoice, now: datetime) -> PaymentAttempt | None:
    """Before a try on another card: did Stripe take the last try, which got no answer? Then
    that is the payment (never a second one). None: go on and charge."""
    last = invoice.attempts.order_by("-number").first()
    if last is None or not _may_have_reached_stripe(last):
        return None
    account = BillingAccount.objects.filter(user__invoices=invoice).first()
    if account is None or not account.stripe_customer_id:
        return None
    if last.payment_method_id == account.payment_method_id:
        return None  # the same card: sent again under the same key below
    try:
        found = gateway.payment_find(customer_id=account.stripe_customer_id, attempt_id=last.pk)
    except gateway.GatewayError:
        return None  # Stripe cannot tell: the charge below cannot reach it either
    if found is None or found.status not in ("succeeded", "processing"):
        return None
    if found.status == "processing":
        return last
    return payment_result_apply(attempt=last, result=found, now=now)


def _checkout_waiting(invoice: Invoice) -> bool:
    """A first invoice while the customer is on the checkout page: never charged unattended."""
    return (
        invoice.kind == InvoiceKind.FIRST
        and Subscription.objects.filter(
            invoices=invoice, status=SubscriptionStatus.INCOMPLETE
        ).exists()
    )


def _may_have_reached_stripe(attempt: PaymentAttempt) -> bool:
    return attempt.status == AttemptStatus.PENDING or (
        attempt.status == AttemptStatus.FAILED and attempt.failure_code == "unavailable"
    )


def _attempt_unreachable(*, attempt: PaymentAttempt, message: str, now: datetime) -> PaymentAttempt:
    with transaction.atomic():
        att = PaymentAttempt.objects.select_for_update(of=("self",)).get(pk=attempt.pk)
        if att.status != AttemptStatus.PENDING:
            return att
        att.status = AttemptStatus.FAILED
        att.failure_code = "unavailable"
        att.failure_message = message[:255]
        att.save(update_fields=["status", "failure_code", "failure_message"])
        inv = lock(Invoice, att.invoice_id, "subscription")
        if inv.subscription and inv.subscription.status != SubscriptionStatus.INCOMPLETE:
            inv.next_retry_at = now + STRIPE_UNREACHABLE_RETRY
            inv.save(update_fields=["next_retry_at"])
        audit(
            user=inv.user,
            kind="payment_service_unreachable",
            subscription=inv.subscription,
            invoice=inv.number,
        )
    return att


def payment_result_apply(
    *, attempt: PaymentAttempt, result: gateway.PaymentResult, now: datetime, quiet: bool = False
) -> PaymentAttempt:
    """Record what Stripe said about an attempt; replaying the same result changes nothing.
    `quiet` records a payment found late for a change that was not made (it is refunded):
    no receipt, and the subscription is left as it is."""
    with transaction.atomic():
        att = lock(PaymentAttempt, attempt.pk, "invoice")
        inv = Invoice.objects.select_for_update(of=("self",)).get(pk=att.invoice_id)
        late_success = (
            att.status == AttemptStatus.FAILED
            and att.failure_code == "unavailable"
            and result.status == "succeeded"
        )  # Stripe had taken it after all (the same key sent again, or its webhook)
        if att.status == AttemptStatus.SUCCEEDED or (
            att.status == AttemptStatus.FAILED and not late_success
        ):
            return att
        if result.payment_intent_id:
            att.payment_intent_id = result.payment_intent_id
            inv.stripe_payment_intent_id = result.payment_intent_id
        if result.status == "succeeded":
            att.status = AttemptStatus.SUCCEEDED
            att.save(update_fields=["status", "payment_intent_id"])
            _invoice_paid(invoice=inv, charge_id=result.charge_id, now=now, quiet=quiet)
        elif result.status in ("requires_action", "requires_confirmation"):
            if att.status == AttemptStatus.REQUIRES_ACTION:
                return att
            att.status = AttemptStatus.REQUIRES_ACTION
            att.client_secret = result.client_secret
            att.save(update_fields=["status", "payment_intent_id", "client_secret"])
            inv.save(update_fields=["stripe_payment_intent_id"])
            _invoice_failed(invoice=inv, attempt=att, now=now, needs_authentication=True)
        elif result.status == "processing":
            att.save(update_fields=["payment_intent_id"])
        else:
            att.status = AttemptStatus.FAILED
            att.failure_code = result.failure_code[:64]
            att.failure_message = result.failure_message[:255]
            att.save(
                update_fields=["status", "payment_intent_id", "failure_code", "failure_message"]
            )
            inv.save(update_fields=["stripe_payment_intent_id"])
            _invoice_failed(invoice=inv, attempt=att, now=now, needs_authentication=False)
    return att


def _invoice_paid(
    *,
    invoice: Invoice,
    charge_id: str,
    now: datetime,
    quiet: bool = False,
    renewed: Subscription | None = None,
) -> None:
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = now
    if invoice.kind != InvoiceKind.PRORATION:
        # A change's invoice keeps its settle date until the change is made (or refunded):
        # should the worker die in between, the billing run finds the payment unapplied.
        invoice.next_retry_at = None
    invoice.stripe_charge_id = charge_id
    invoice.save(
        update_fields=[
            "status",
            "paid_at",
            "next_retry_at",
            "stripe_charge_id",
            "stripe_payment_intent_id",
        ]
    )
    if quiet:
        audit(
            user=invoice.user,
            kind="payment_succeeded",
            subscription=invoice.subscription,
            invoice=invoice.number,
            amount=invoice.amount_due,
            currency=invoice.currency,
            late=True,
        )
        return
    if renewed is not None:
        sub, reactivated = renewed, False  # active, and already billed to the new period's end
    else:
        sub = lock(Subscription, invoice.subscription_id, "user", "price")
        if sub.first_paid_at is None:
            sub.first_paid_at = now
        reactivated = sub.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.SUSPENDED)
        if sub.status in LIVE_STATUSES:
            sub.status = SubscriptionStatus.ACTIVE  # 004: reactivated at once on payment
            sub.suspended_at = None
            if sub.next_billing_at is None and sub.cancel_at is None:
                sub.next_billing_at = sub.current_period_end
        sub.save(update_fields=["first_paid_at", "status", "suspended_at", "next_billing_at"])
    audit(
        user=sub.user,
        kind="payment_succeeded",
        subscription=sub,
        invoice=invoice.number,
        amount=invoice.amount_due,
        currency=invoice.currency,
        reactivated=reactivated,
    )
    emails.email_user(
        sub.user,
        "receipt",
        {"subscription": sub, "invoice": invoice, "reactivated": reactivated},
        attachments=[(emails.INVOICE_PDF, invoice.pk)],
    )


def _invoice_failed(
    *, invoice: Invoice, attempt: PaymentAttempt, now: datetime, needs_authentication: bool
) -> None:
    """004: retried 3 times over 7 days (days 1, 3, 7), an e-mail at each failure, then the
    subscription is suspended."""
    sub = lock(Subscription, invoice.subscription_id, "user", "price")
    waiting = invoice.kind == InvoiceKind.FIRST and sub.status == SubscriptionStatus.INCOMPLETE
    if waiting or invoice.kind == InvoiceKind.PRORATION:
        # The customer is on the page (checkout, upgrade, "keep my subscription") or staff
        # approve a contract change: they see the decline; the change does not happen and the
        # subscription is not in arrears for it, so no dunning.
        audit(
            user=sub.user,
            kind="payment_failed",
            subscription=sub,
            invoice=invoice.number,
            code=attempt.failure_code,
        )
        if waiting:
            # The invoice stays open: the customer may have left the page, so the link to
            # pay it goes by e-mail too.
            emails.email_user(
                sub.user, "first_payment_declined", {"invoice": invoice, "attempt": attempt}
            )
        return
    if invoice.first_failed_at is None:
        invoice.first_failed_at = now
        invoice.retries_scheduled = [t.isoformat() for t in policy.payment_retry_schedule(now)]
    upcoming = [t for t in invoice.retries_scheduled if datetime.fromisoformat(t) > now]
    invoice.next_retry_at = datetime.fromisoformat(upcoming[0]) if upcoming else None
    invoice.save(update_fields=["first_failed_at", "retries_scheduled", "next_retry_at"])
    # 004: once the last retry has failed the service is suspended, whether the bank declined
    # or kept asking for an authentication the customer never gave.
    suspended = invoice.next_retry_at is None
    if suspended:
        sub.status = SubscriptionStatus.SUSPENDED
        sub.suspended_at = now
    elif sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.INCOMPLETE):
        sub.status = SubscriptionStatus.PAST_DUE
    if invoice.kind == InvoiceKind.RENEWAL:
        # The renewal moved the next billing date on with the invoice; in arrears, nothing is
        # billed next until this is paid (`_invoice_paid` sets it again).
        sub.next_billing_at = None
    sub.save(update_fields=["status", "suspended_at", "next_billing_at"])
    audit(
        user=sub.user,
        kind="subscription_suspended" if suspended else "payment_failed",
        subscription=sub,
        invoice=invoice.number,
        code=attempt.failure_code,
        next_retry_at=invoice.next_retry_at.isoformat() if invoice.next_retry_at else "",
    )
    emails.email_user(
        sub.user,
        "payment_failed",
        {
            "subscription": sub,
            "invoice": invoice,
            "attempt": attempt,
            "suspended": suspended,
            "needs_authentication": needs_authentication,
        },
    )


def raise_if_failed(attempt: PaymentAttempt) -> None:
    if attempt.status != AttemptStatus.FAILED:
        return
    if attempt.failure_code == "unavailable":
        raise SubscriptionError(attempt.failure_message)
    raise SubscriptionError(
        _("Your card was declined (%(reason)s): please try another card.")
        % {"reason": attempt.reason}
    )


def charge_confirmed(
    *,
    shown: policy.ShownCharge | None,
    amount: int,
    currency: str,
    at: datetime | None = None,
    why: str = "",
) -> None:
    """Quotes before money (DESIGN 4), the one check every flow that takes money makes just
    before it does: subscribing, paying an open invoice, changing plan, keeping a cancelled
    subscription, approving a contract change. `amount` and `at` are re-computed now (`at`
    None: charged at once); unless they are what the confirmed page showed, nothing is done
    and `QuoteChanged` says why, for the page to show the new quote. `shown` None is a
    caller with no page (the billing run, a renewal): nothing to compare."""
    if shown is None:
        return
    if not policy.charge_as_shown(shown, policy.ShownCharge(amount, currency, at)):
        raise QuoteChanged(
            why
            or _(
                "The amount has changed since this page was shown: nothing was charged. "
                "Please check the new amount and confirm it."
            )
        )


def invoice_pay_now(
    *, user: User, invoice: Invoice, now: datetime, shown: policy.ShownCharge | None = None
) -> PaymentAttempt:
    """The customer's "pay now" (after updating the card): charge the open invoice at once.
    A change's invoice is paid only by the change itself."""
    if invoice.user_id != user.pk or invoice.kind == InvoiceKind.PRORATION:
        raise SubscriptionError(_("This invoice cannot be paid."))
    if invoice.status != InvoiceStatus.OPEN:
        raise SubscriptionError(_("This invoice has nothing left to pay."))
    charge_confirmed(shown=shown, amount=invoice.amount_due, currency=invoice.currency)
    attempt = invoice_charge(invoice=invoice, trigger="customer", now=now)
    raise_if_failed(attempt)
    return attempt


def payment_intent_sync(*, payment_intent_id: str, now: datetime) -> PaymentAttempt | None:
    """Webhooks and the authentication page: re-read the PaymentIntent and apply it."""
    attempt = (
        PaymentAttempt.objects.filter(payment_intent_id=payment_intent_id)
        .select_related("invoice")
        .order_by("-number")
        .first()
    )
    if attempt is None:
        return None
    if attempt.invoice.kind == InvoiceKind.PRORATION:
        # A change's payment is settled by the change itself, or looked up by the billing
        # run (then refunded, the change not being made): never by a webhook on its own.
        return attempt
    result = gateway.payment_retrieve(payment_intent_id)
    if attempt.status == AttemptStatus.REQUIRES_ACTION and result.status == "requires_action":
        return attempt
    if attempt.status == AttemptStatus.REQUIRES_ACTION:
        # The customer completed (or failed) authentication: a fresh outcome for this attempt.
        PaymentAttempt.objects.filter(pk=attempt.pk).update(status=AttemptStatus.PENDING)
    return payment_result_apply(attempt=attempt, result=result, now=now)


def charge_refunds_sync(*, charge_id: str, now: datetime) -> Invoice | None:
    """`charge.refunded`: record refunds made elsewhere (the Stripe dashboard) on the invoice."""
    invoice = Invoice.objects.filter(stripe_charge_id=charge_id).first()
    if invoice is None:
        return None
    refunded = gateway.charge_amount_refunded(charge_id)
    with transaction.atomic():
        inv = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
        if refunded > inv.amount_refunded:
            audit(
                user=inv.user,
                kind="refund_recorded",
                subscription=inv.subscription,
                invoice=inv.number,
                amount=refunded - inv.amount_refunded,
                currency=inv.currency,
                source="stripe",
            )
            # Refunds the portal itself is making get their credit note when recorded.
            in_flight = sum(
                RefundRequest.objects.filter(
                    invoice=inv, status__in=(RefundStatus.PROCESSING, RefundStatus.FAILED)
                ).values_list("amount", flat=True)
            )
            credit_note_issue(
                invoice=inv,
                amount=refunded - inv.amount_refunded - in_flight,
                now=now,
                refunded_at=now,
            )
            inv.amount_refunded = refunded
            inv.save(update_fields=["amount_refunded"])
    return inv
