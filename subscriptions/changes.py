"""Changing plan, cancelling in three clicks, and contract change requests (000, 001, 003, 004).

Every quote comes from `policy`; the confirmation re-computes it at the moment the customer
was shown (`quoted_at`, signed in the form), so what they confirmed is what is charged.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from subscriptions import emails, policy, refunds
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    LIVE_STATUSES,
    AttemptStatus,
    BillingAccount,
    ChangeRequestStatus,
    ContractChangeRequest,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    Price,
    RefundReason,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services import (
    INTERVAL_WORDS,
    STALE_ATTEMPT,
    STRIPE_UNREACHABLE_RETRY,
    SubscriptionError,
    _invoice_issue,
    audit,
    invoice_charge,
    payment_result_apply,
    pending_changes_close,
    period_bounds,
    price_terms,
    trial_expire,
    void_open_invoices,
)

QUOTE_VALIDITY = timedelta(minutes=30)
_SIGNER_SALT = "subscriptions.plan-change-quote"
CHANGEABLE = (SubscriptionStatus.ACTIVE,)


# --- quotes ----------------------------------------------------------------------------------


def plan_change_options(*, subscription: Subscription) -> list[Price]:
    """The other offered plans and intervals, in the subscription's currency."""
    return list(
        Price.objects.filter(currency=subscription.currency, is_active=True, plan__is_active=True)
        .exclude(pk=subscription.price_id or 0)
        .select_related("plan")
        .order_by("plan__rank", "interval")
    )


def plan_change_quote_for(
    *, subscription: Subscription, target: Price, now: datetime, ignore_commitment: bool = False
) -> policy.PlanChangeQuote:
    """The policy's quote for moving this subscription to `target` at `now`.

    Amounts are tax included: what the card is charged. `ignore_commitment` is the staff's
    view of an approved contract change (000: the unused part of the annual payment credited).
    """
    current = subscription.price
    if (
        current is None
        or subscription.current_period_start is None
        or subscription.current_period_end is None
    ):
        raise SubscriptionError(_("This subscription cannot change plan now."))
    terms = price_terms(current)
    if ignore_commitment:
        terms = policy.Terms(
            interval=terms.interval,
            guarantee_days=terms.guarantee_days,
            renewal_grace_business_days=terms.renewal_grace_business_days,
        )
    return policy.plan_change_quote(
        terms,
        current.plan.rank,
        current.total_amount,
        price_terms(target),
        target.plan.rank,
        target.total_amount,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
        now=now,
        currency=subscription.currency,
    )


def quote_token(*, subscription: Subscription, target: Price, quoted_at: datetime) -> str:
    """Signed (subscription, target, moment) carried by the confirmation form."""
    return signing.dumps(
        [subscription.pk, target.pk, quoted_at.isoformat()], salt=_SIGNER_SALT, compress=True
    )


def _quoted_at(token: str, *, subscription: Subscription, target: Price, now: datetime) -> datetime:
    try:
        sub_pk, target_pk, moment = signing.loads(token, salt=_SIGNER_SALT, max_age=QUOTE_VALIDITY)
        quoted_at = datetime.fromisoformat(moment)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise SubscriptionError(
            _("This quote has expired: please look at the new amount and confirm again.")
        ) from exc
    if sub_pk != subscription.pk or target_pk != target.pk or quoted_at > now:
        raise SubscriptionError(
            _("This quote has expired: please look at the new amount and confirm again.")
        )
    return quoted_at


# --- changing plan (001, 004) ----------------------------------------------------------------


def plan_change(
    *, user: User, subscription: Subscription, target: Price, token: str, now: datetime
) -> Subscription:
    """Do what the quote said: an upgrade now with its prorated charge (a failed charge leaves
    the old plan), a downgrade from the next period, a review under a commitment."""
    if subscription.user_id != user.pk:
        raise SubscriptionError(_("This subscription cannot change plan now."))
    quoted_at = _quoted_at(token, subscription=subscription, target=target, now=now)
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("price", "price__plan", "plan", "user")
            .get(pk=subscription.pk)
        )
        if sub.status not in CHANGEABLE or sub.cancel_at is not None:
            raise SubscriptionError(_("This subscription cannot change plan now."))
        _refuse_if_charging(sub, quoted_at)
        if sub.current_period_end is None or quoted_at < (sub.current_period_start or now):
            raise SubscriptionError(
                _("This quote has expired: please look at the new amount and confirm again.")
            )
        quote = plan_change_quote_for(subscription=sub, target=target, now=quoted_at)
        if quote.mode == "none":
            raise SubscriptionError(_("This is already your plan."))
        if quote.mode == "review":
            raise SubscriptionError(
                _("Your plan is under a commitment: please send a change request instead.")
            )
        if quote.mode == "next_period":
            sub.scheduled_price = target
            sub.save(update_fields=["scheduled_price"])
            audit(
                user=user,
                kind="downgrade_scheduled",
                subscription=sub,
                target=target.plan.code,
                effective_at=sub.current_period_end.isoformat(),
            )
            emails.email_user(user, "downgrade_scheduled", {"subscription": sub})
            return sub
        # Immediate: a proration invoice for exactly the quoted amount.
        old_price = sub.price
        assert old_price is not None  # noqa: S101 - plan_change_quote_for checked it
        start, end = now, sub.current_period_end
        if quote.starts_new_period:
            start, end = now, policy.add_months(now, policy.MONTHS_PER_INTERVAL[target.interval])
        invoice = None
        if quote.amount_due > 0:
            invoice = _invoice_issue(
                subscription=sub,
                kind=InvoiceKind.PRORATION,
                period_start=start,
                period_end=end,
                now=now,
                price=target,
                lines=[(_change_line(old_price, target), quote.amount_due)],
            )
            _settle_later(invoice, now)
    if invoice is not None:
        attempt = _charge_or_void(invoice, trigger="plan_change", now=now)
        if attempt.status != AttemptStatus.SUCCEEDED:
            audit(
                user=user,
                kind="plan_change_failed",
                subscription=subscription,
                target=target.plan.code,
                code=attempt.failure_code,
            )
            if _outcome_unknown(attempt):
                raise _unknown_outcome_error()
            reason = attempt.reason
            raise SubscriptionError(
                _("The payment did not go through (%(reason)s): you stay on your current plan.")
                % {"reason": reason}
                if attempt.status == AttemptStatus.FAILED
                else _(
                    "Your bank asks for a confirmation we cannot get here: you stay on your "
                    "current plan. Please try again or use another card."
                )
            )
    return _switch_now(subscription, target, quote, now=now, invoice=invoice)


def _change_line(old: Price, target: Price) -> str:
    """The upgrade's invoice line in both languages (the invoice is a legal document)."""
    en, fr = INTERVAL_WORDS[target.interval]
    return (
        f"{old.plan.name_en} -> {target.plan.name_en}, {en}, prorated / "
        f"{old.plan.name_fr} -> {target.plan.name_fr}, {fr}, au prorata"
    )


def _refuse_if_charging(subscription: Subscription, since: datetime) -> None:
    """Under the subscription's lock: a change whose payment is still being taken, or was
    taken after the quote being confirmed was shown (a second click, another tab), is not
    made again, so it is never charged twice."""
    if (
        Invoice.objects.filter(subscription=subscription, kind=InvoiceKind.PRORATION)
        .filter(Q(status=InvoiceStatus.OPEN) | Q(status=InvoiceStatus.PAID, paid_at__gte=since))
        .exists()
    ):
        raise SubscriptionError(
            _("A payment for a change to this subscription is in progress: please wait.")
        )


SETTLE_DELAY = timedelta(minutes=15)


def _settle_later(invoice: Invoice, now: datetime) -> None:
    """Set when a change's invoice is issued: should the worker die while Stripe is asked,
    the billing run looks the payment up (never sends it again)."""
    invoice.next_retry_at = now + SETTLE_DELAY
    invoice.save(update_fields=["next_retry_at"])


def _charge_or_void(invoice: Invoice, *, trigger: str, now: datetime) -> PaymentAttempt:
    """Charge a change's invoice while the customer waits: declined, it is void (no dunning)
    and the change does not happen. When Stripe did not answer, nobody can tell yet whether
    the card was charged: the change does not happen, and the invoice stays open until the
    billing run finds out (`change_payment_settle`)."""
    attempt = invoice_charge(invoice=invoice, trigger=trigger, now=now)
    if attempt.status == AttemptStatus.SUCCEEDED:
        return attempt
    if _outcome_unknown(attempt):
        Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.OPEN).update(
            next_retry_at=now + SETTLE_DELAY
        )
    else:
        _void(invoice)
    return attempt


def _outcome_unknown(attempt: PaymentAttempt) -> bool:
    return attempt.status == AttemptStatus.PENDING or (
        attempt.status == AttemptStatus.FAILED and attempt.failure_code == "unavailable"
    )


def _void(invoice: Invoice) -> None:
    Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.OPEN).update(
        status=InvoiceStatus.VOID, next_retry_at=None, first_failed_at=None
    )


def _unknown_outcome_error() -> SubscriptionError:
    return SubscriptionError(
        _(
            "The payment service did not answer, so nothing was changed. Should your card "
            "have been charged all the same, the amount is refunded in full automatically "
            "and you will get an e-mail."
        )
    )


def change_payment_settle(*, invoice: Invoice, now: datetime) -> bool:
    """The billing run's look at a change's payment Stripe never answered: not found or not
    paid, the invoice is void; paid after all, it is recorded and refunded in full, since the
    change was not made (the customer was told so). Never sent a second time."""
    inv = Invoice.objects.select_related("user").get(pk=invoice.pk)
    attempt = inv.attempts.order_by("-number").first()
    if inv.kind != InvoiceKind.PRORATION or inv.next_retry_at is None:
        return False
    if inv.status == InvoiceStatus.PAID:
        # Paid, but the worker died before making the change: refunded in full, as if the
        # payment had been found late.
        _keep_undone(inv, now)
        audit(user=inv.user, kind="change_payment_unapplied", invoice=inv.number)
        refunds.unapplied_change_refund(invoice=inv, now=now)
        return True
    if inv.status != InvoiceStatus.OPEN:
        return False
    account = BillingAccount.objects.filter(user__invoices=inv).first()
    if attempt is None or account is None or not account.stripe_customer_id:
        _keep_undone(inv, now)
        _void(inv)  # the worker died before asking Stripe: nothing was charged
        return True
    if attempt.status == AttemptStatus.PENDING and attempt.created_at > timezone.now() - (
        STALE_ATTEMPT
    ):
        return False  # still being asked
    try:
        found = gateway.payment_find(customer_id=account.stripe_customer_id, attempt_id=attempt.pk)
        undecided = found is not None and found.status == "processing"
    except gateway.GatewayError:
        undecided = True
    if undecided:  # Stripe cannot tell yet: look again later
        Invoice.objects.filter(pk=inv.pk).update(next_retry_at=now + STRIPE_UNREACHABLE_RETRY)
        return False
    _keep_undone(inv, now)
    if found is None or found.status != "succeeded":
        _void(inv)
        PaymentAttempt.objects.filter(pk=attempt.pk, status=AttemptStatus.PENDING).update(
            status=AttemptStatus.FAILED, failure_code="unavailable"
        )
        audit(user=inv.user, kind="change_payment_void", invoice=inv.number)
        return True
    payment_result_apply(attempt=attempt, result=found, now=now, quiet=True)
    audit(
        user=inv.user,
        kind="change_payment_found",
        invoice=inv.number,
        amount=inv.total,
        currency=inv.currency,
    )
    refunds.unapplied_change_refund(invoice=inv, now=now)
    return True


HELD_REASON = "Subscription kept before the refund was made."


def _keep_undone(invoice: Invoice, now: datetime) -> None:
    """A "keep my subscription" whose charge-back was never confirmed did not happen: its
    refunds are no longer marked charged back, and those it held are sent again, unless a
    refund asked since stands on the same payment (it was computed with them left out)."""
    with transaction.atomic():
        marked = list(RefundRequest.objects.select_for_update().filter(charged_back_by=invoice))
        held = list(
            RefundRequest.objects.select_for_update().filter(
                subscription_id=invoice.subscription_id or 0,
                status=RefundStatus.REJECTED,
                decision_reason=HELD_REASON,
                decided_at__gte=invoice.issued_at,
            )
        )
        for refund in marked + held:
            if refunds.existing_request(refund.invoice) is not None:
                continue
            if refund in held:
                refund.status, refund.next_attempt_at = RefundStatus.FAILED, now
                refund.decided_at, refund.decision_reason = None, ""
            refund.charged_back_by = None
            refund.save(
                update_fields=[
                    "status",
                    "next_attempt_at",
                    "decided_at",
                    "decision_reason",
                    "charged_back_by",
                ]
            )


def _switch_now(
    subscription: Subscription,
    target: Price,
    quote: policy.PlanChangeQuote,
    *,
    now: datetime,
    invoice: Invoice | None,
    actor: User | None = None,
) -> Subscription:
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("plan", "user")
            .get(pk=subscription.pk)
        )
        old_plan = sub.plan.name
        sub.plan, sub.price, sub.scheduled_price = target.plan, target, None
        sub.credit += quote.credit
        fields = ["plan", "price", "scheduled_price", "credit"]
        if quote.starts_new_period:
            sub.anchor_at, sub.period_index = now, 0
            sub.current_period_start, sub.current_period_end = period_bounds(
                anchor=now, index=0, price=target
            )
            sub.next_billing_at = sub.current_period_end
            fields += [
                "anchor_at",
                "period_index",
                "current_period_start",
                "current_period_end",
                "next_billing_at",
            ]
        sub.save(update_fields=fields)
        if invoice is not None:
            Invoice.objects.filter(pk=invoice.pk).update(next_retry_at=None)  # settled
        audit(
            user=sub.user,
            actor=actor,
            kind="plan_changed",
            subscription=sub,
            new=target.plan.code,
            charged=quote.amount_due,
            credit=quote.credit,
            invoice=invoice.number if invoice else "",
        )
        emails.email_user(
            sub.user,
            "plan_changed",
            {"subscription": sub, "invoice": invoice, "old_plan": old_plan},
        )
    return sub


def plan_change_withdraw(*, user: User, subscription: Subscription) -> Subscription:
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).get(
            pk=subscription.pk, user=user
        )
        if sub.scheduled_price_id is None:
            return sub
        sub.scheduled_price = None
        sub.save(update_fields=["scheduled_price"])
        audit(user=user, kind="downgrade_withdrawn", subscription=sub)
    return sub


# --- cancelling (003, 004, L215-1-1) -----------------------------------------------------------


@dataclass(frozen=True)
class CancellationQuote:
    """What the summary page says before the customer confirms."""

    subscription: Subscription
    ends_at: datetime
    refund: policy.RefundQuote  # refunded at once on confirming (remaining months), or none
    guarantee: policy.RefundQuote | None  # the full refund offered as a second button
    invoice: Invoice | None
    committed: bool


def cancellation_quote(*, subscription: Subscription, now: datetime) -> CancellationQuote:
    sub = subscription
    none = policy.RefundQuote(amount=0, currency=sub.currency, rule="none", ends_at=None)
    if sub.status == SubscriptionStatus.TRIALING:
        # A trial is never billed once cancelled; it runs to its end, then its data is kept
        # for the export grace period.
        ends = sub.trial_ends_at or now
        return CancellationQuote(sub, ends, none, None, None, committed=False)
    if sub.price is None or sub.current_period_start is None or sub.current_period_end is None:
        return CancellationQuote(sub, now, none, None, None, committed=False)
    terms = price_terms(sub.price)
    ends_at = policy.cancellation_date(
        terms,
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        now=now,
    )
    invoice = refunds.latest_payment(sub)
    refund, guarantee = none, None
    if invoice is not None:
        full = refunds.payments_refund(invoice=invoice, now=now).quote
        if full.rule in ("guarantee", "renewal_grace"):
            guarantee = full
        plain = refunds.payments_refund(invoice=invoice, now=now, skip_full_refunds=True).quote
        if plain.rule == "remaining_months" and plain.amount > 0:
            refund = plain
    return CancellationQuote(
        sub, ends_at, refund, guarantee, invoice, committed=terms.commitment_months > 0
    )


def cancellation_confirm(
    *,
    user: User,
    subscription: Subscription,
    reason: str,
    now: datetime,
    full_refund: bool = False,
    quoted_at: datetime | None = None,
) -> tuple[Subscription, list[RefundRequest]]:
    """Record the cancellation; refund what the summary said (shown at `quoted_at`); e-mail
    the acknowledgement."""
    if subscription.user_id != user.pk:
        raise SubscriptionError(_("You have no active contract to cancel."))
    quoted_at = quoted_at or now
    quote = cancellation_quote(subscription=subscription, now=quoted_at)
    refunded: list[RefundRequest] = []
    if full_refund:
        if quote.guarantee is None or quote.invoice is None:
            raise SubscriptionError(_("A full refund is no longer possible for this payment."))
        refunded = refunds.refund_requests_create(
            user=user,
            invoice=quote.invoice,
            reason=RefundReason.CANCELLATION,
            details=reason,
            now=now,
            quoted_at=quoted_at,
        )
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).get(pk=subscription.pk)
        if refunded:
            # The full refund has ended the subscription already: keep the reason given.
            sub.cancel_reason = reason.strip()[:2000]
            sub.save(update_fields=["cancel_reason"])
        elif sub.status not in LIVE_STATUSES:
            raise SubscriptionError(_("You have no active contract to cancel."))
        elif sub.cancel_at is not None:
            # Confirmed twice (double click, second tab): recorded once, acknowledged once.
            return Subscription.objects.select_related("plan", "user").get(pk=sub.pk), []
        else:
            sub.cancel_requested_at = now
            sub.cancel_reason = reason.strip()[:2000]
            sub.cancel_at = quote.ends_at
            sub.scheduled_price = None
            if sub.status != SubscriptionStatus.TRIALING:
                sub.next_billing_at = None
            sub.save(
                update_fields=[
                    "cancel_requested_at",
                    "cancel_reason",
                    "cancel_at",
                    "next_billing_at",
                    "scheduled_price",
                ]
            )
            audit(
                user=user,
                kind="cancellation_requested",
                subscription=sub,
                ends_at=sub.cancel_at.isoformat(),
                reason_given=bool(reason.strip()),
            )
    if not refunded and quote.refund.rule == "remaining_months" and quote.invoice is not None:
        # 004: the full months left after the current one are refunded at once; the service
        # runs to the date the summary gave.
        refunded = refunds.refund_requests_create(
            user=user,
            invoice=quote.invoice,
            reason=RefundReason.CANCELLATION,
            details=reason,
            now=now,
            ends_at=quote.ends_at,
            skip_full_refunds=True,
            quoted_at=quoted_at,
        )
    sub = Subscription.objects.select_related("plan", "user").get(pk=subscription.pk)
    full_refund_until = None
    if not refunded and quote.guarantee is not None and quote.invoice is not None:
        # The full refund was offered and not taken: it can still be asked until then.
        full_refund_until = refunds.payments_refund(
            invoice=quote.invoice, now=quoted_at
        ).holds_until
    emails.email_user(
        user,
        "cancellation_confirmed",
        {
            "subscription": sub,
            "refund": refunds.total(refunded),
            "trial": sub.status == SubscriptionStatus.TRIALING,
            "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS,
            "full_refund_until": full_refund_until,
        },
    )
    return sub, refunded


def cancellation_undo(*, user: User, subscription: Subscription, now: datetime) -> Subscription:
    """ "Keep my subscription": one click, until the end date. Months already refunded on
    cancelling are charged again, as the page says before the click."""
    # A refund that got no answer from Stripe may have been made all the same: found, it is
    # recorded (and charged again below) rather than held as never sent.
    unanswered = RefundRequest.objects.filter(
        subscription=subscription,
        subscription__user=user,
        status=RefundStatus.FAILED,
        attempts__gt=0,
        ends_at=subscription.cancel_at,
    )
    for refund in unanswered:
        try:
            refunds.refund_made_already(refund=refund, now=now)
        except gateway.GatewayError as exc:
            raise SubscriptionError(
                _("The payment service is unavailable, please try again in a few minutes.")
            ) from exc
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("price", "user")
            .get(pk=subscription.pk, user=user)
        )
        if sub.status not in LIVE_STATUSES or sub.cancel_at is None or sub.cancel_at <= now:
            raise SubscriptionError(_("This cancellation can no longer be undone."))
        _refuse_if_charging(sub, now)
        # Refunds still waiting for a retry are not sent: the customer keeps these months.
        held = list(
            RefundRequest.objects.filter(
                subscription=sub, status=RefundStatus.FAILED, ends_at=sub.cancel_at
            ).values_list("pk", flat=True)
        )
        RefundRequest.objects.filter(pk__in=held).update(
            status=RefundStatus.REJECTED,
            next_attempt_at=None,
            decided_at=now,
            decision_reason=HELD_REASON,
        )
        charged_back = refunds_to_charge_back(sub)
        amount = sum(r.amount for r in charged_back)
        invoice = None
        if amount > 0 and sub.price is not None:
            invoice = _invoice_issue(
                subscription=sub,
                kind=InvoiceKind.PRORATION,
                period_start=sub.cancel_at,
                period_end=sub.current_period_end or sub.cancel_at,
                now=now,
                lines=[
                    (
                        "Months refunded on cancellation, charged again (VAT paid on the "
                        "original invoice) / Mois remboursés à la résiliation, facturés à "
                        "nouveau (TVA acquittée sur la facture d'origine)",
                        amount,
                    )
                ],
                untaxed=True,
            )
            _settle_later(invoice, now)
            # Marked now, under the lock: a second click finds nothing left to charge again.
            RefundRequest.objects.filter(pk__in=[r.pk for r in charged_back]).update(
                charged_back_by=invoice
            )
    if invoice is not None:
        attempt = _charge_or_void(invoice, trigger="undo_cancel", now=now)
        if attempt.status != AttemptStatus.SUCCEEDED:
            # The cancellation stays: so do its refunds, as they were (a charge Stripe took
            # without our hearing is refunded when the billing run finds it).
            RefundRequest.objects.filter(charged_back_by=invoice).update(charged_back_by=None)
            RefundRequest.objects.filter(pk__in=held).update(
                status=RefundStatus.FAILED, next_attempt_at=now, decided_at=None, decision_reason=""
            )
            if _outcome_unknown(attempt):
                raise _unknown_outcome_error()
            raise SubscriptionError(
                _("The payment did not go through (%(reason)s): your cancellation stays in place.")
                % {"reason": attempt.reason}
            )
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=subscription.pk)
        )
        if invoice is not None:
            Invoice.objects.filter(pk=invoice.pk).update(next_retry_at=None)  # settled
        sub.cancel_at = None
        sub.cancel_requested_at = None
        sub.cancel_reason = ""
        if sub.status != SubscriptionStatus.TRIALING and sub.current_period_end:
            sub.next_billing_at = sub.current_period_end
        elif sub.status == SubscriptionStatus.TRIALING:
            sub.next_billing_at = sub.trial_ends_at
        sub.save(
            update_fields=["cancel_at", "cancel_requested_at", "cancel_reason", "next_billing_at"]
        )
        audit(
            user=user,
            kind="cancellation_undone",
            subscription=sub,
            charged=invoice.total if invoice else 0,
        )
        emails.email_user(user, "cancellation_undone", {"subscription": sub})
    return sub


def refunds_to_charge_back(subscription: Subscription) -> list[RefundRequest]:
    """The remaining-months refunds of this cancellation (money given back, or on its way),
    which keeping the subscription undoes; each is charged again once."""
    if subscription.cancel_at is None:
        return []
    return list(
        RefundRequest.objects.filter(
            subscription=subscription,
            rule="remaining_months",
            ends_at=subscription.cancel_at,
            charged_back_by__isnull=True,
            status__in=(RefundStatus.SUCCEEDED, RefundStatus.PROCESSING),
        ).order_by("pk")
    )


def refund_to_charge_back(subscription: Subscription) -> policy.RefundQuote | None:
    """What "keep my subscription" will charge again, as the page says before the click."""
    charged_back = refunds_to_charge_back(subscription)
    amount = sum(r.amount for r in charged_back)
    if amount == 0:
        return None
    return policy.RefundQuote(amount, subscription.currency, "remaining_months", None)


def subscription_end_due(*, subscription: Subscription, now: datetime) -> bool:
    """At the end date the subscription ends; data, invoices and export stay (001)."""
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=subscription.pk)
        )
        if sub.status not in LIVE_STATUSES or sub.cancel_at is None or sub.cancel_at > now:
            return False
        if sub.status == SubscriptionStatus.TRIALING:
            # A cancelled trial runs out as any trial does: expired, readable for the export.
            return trial_expire(subscription=sub, now=now)
        sub.status = SubscriptionStatus.CANCELED
        sub.ended_at = now
        sub.next_billing_at = None
        sub.save(update_fields=["status", "ended_at", "next_billing_at"])
        pending_changes_close(sub)
        void_open_invoices(sub)
        audit(user=sub.user, kind="subscription_ended", subscription=sub, why="cancellation")
    return True


# --- contract change requests (000) ------------------------------------------------------------


def change_request_create(
    *, user: User, subscription: Subscription, target: Price, reason: str, message: str
) -> ContractChangeRequest:
    if subscription.user_id != user.pk or subscription.price is None:
        raise SubscriptionError(_("This subscription cannot change plan now."))
    if subscription.price.commitment_months == 0:
        raise SubscriptionError(_("Your plan has no commitment: you can change it yourself."))
    if target.pk == subscription.price_id or target.currency != subscription.currency:
        raise SubscriptionError(_("Please choose another plan."))
    if not reason.strip():
        raise SubscriptionError(_("Please tell us why you want to change."))
    with transaction.atomic():
        Subscription.objects.select_for_update(of=("self",)).get(pk=subscription.pk)
        if ContractChangeRequest.objects.filter(
            subscription=subscription, status=ChangeRequestStatus.PENDING
        ).exists():
            raise SubscriptionError(_("You already have a change request waiting for review."))
        change = ContractChangeRequest.objects.create(
            user=user,
            subscription=subscription,
            target_price=target,
            reason=reason.strip()[:200],
            message=message.strip()[:5000],
        )
        audit(
            user=user,
            kind="change_request_filed",
            subscription=subscription,
            target=target.plan.code,
        )
        emails.email_user(user, "change_request_received", {"change": change})
    return change


def change_request_withdraw(*, user: User, change: ContractChangeRequest) -> None:
    with transaction.atomic():
        c = ContractChangeRequest.objects.select_for_update().get(pk=change.pk, user=user)
        if c.status != ChangeRequestStatus.PENDING:
            raise SubscriptionError(_("This request has already been decided."))
        c.status = ChangeRequestStatus.WITHDRAWN
        c.save(update_fields=["status"])
        audit(user=user, kind="change_request_withdrawn", subscription=c.subscription)


def change_request_quote(*, change: ContractChangeRequest, now: datetime) -> policy.PlanChangeQuote:
    """What approving would do: a higher plan now with the unused annual payment credited,
    a lower one at the end of the term."""
    return plan_change_quote_for(
        subscription=change.subscription,
        target=change.target_price,
        now=now,
        ignore_commitment=True,
    )


def change_request_decide(
    *, change: ContractChangeRequest, actor: User, approve: bool, reason: str, now: datetime
) -> ContractChangeRequest:
    if not actor.has_perm("subscriptions.review_contract_change"):
        raise SubscriptionError(_("You are not allowed to review contract changes."))
    if not approve and not reason.strip():
        raise SubscriptionError(_("Please write the reason for the rejection."))
    with transaction.atomic():
        c = (
            ContractChangeRequest.objects.select_for_update(of=("self",))
            .select_related("subscription", "target_price", "target_price__plan", "user")
            .get(pk=change.pk)
        )
        if c.status != ChangeRequestStatus.PENDING:
            raise SubscriptionError(_("This request has already been decided."))
        sub = c.subscription
        if approve and (
            sub.status not in LIVE_STATUSES
            or sub.current_period_end is None
            or now >= sub.current_period_end
        ):
            raise SubscriptionError(
                _("This subscription has ended or is being renewed: it cannot change now.")
            )
        if approve:
            _refuse_if_charging(sub, now)
        quote = change_request_quote(change=c, now=now) if approve else None
        c.status = ChangeRequestStatus.APPROVED if approve else ChangeRequestStatus.REJECTED
        c.decided_by, c.decided_at, c.decision_reason = actor, now, reason.strip()
        c.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        audit(
            user=c.user,
            actor=actor,
            kind=f"change_request_{c.status}",
            subscription=c.subscription,
            target=c.target_price.plan.code,
        )
    effective_now = False
    if approve and quote is not None:
        if quote.mode == "immediate":
            _approved_now(c, quote, actor=actor, now=now)
            effective_now = True
        else:
            Subscription.objects.filter(pk=c.subscription_id).update(scheduled_price=c.target_price)
    emails.email_user(
        c.user, "change_request_decided", {"change": c, "effective_now": effective_now}
    )
    return c


def _approved_now(
    change: ContractChangeRequest, quote: policy.PlanChangeQuote, *, actor: User, now: datetime
) -> None:
    """An approved move to a higher plan starts now; the quote's amount is charged, or its
    credit kept for the next invoices. A declined card reverts the decision to pending."""
    sub = change.subscription
    target = change.target_price
    invoice = None
    if quote.amount_due > 0:
        with transaction.atomic():
            locked = (
                Subscription.objects.select_for_update(of=("self",))
                .select_related("user", "price", "price__plan")
                .get(pk=sub.pk)
            )
            end = (
                policy.add_months(now, policy.MONTHS_PER_INTERVAL[target.interval])
                if quote.starts_new_period
                else locked.current_period_end or now
            )
            invoice = _invoice_issue(
                subscription=locked,
                kind=InvoiceKind.PRORATION,
                period_start=now,
                period_end=end,
                now=now,
                price=target,
                lines=[
                    (
                        f"Contract change to {target.plan.name_en} / "
                        f"Changement de contrat vers {target.plan.name_fr}",
                        quote.amount_due,
                    )
                ],
            )
            _settle_later(invoice, now)
        attempt = _charge_or_void(invoice, trigger="contract_change", now=now)
        if attempt.status != AttemptStatus.SUCCEEDED:
            ContractChangeRequest.objects.filter(pk=change.pk).update(
                status=ChangeRequestStatus.PENDING, decided_by=None, decided_at=None
            )
            if _outcome_unknown(attempt):
                raise SubscriptionError(
                    _(
                        "The payment service did not answer: the request stays pending. Should "
                        "the customer's card have been charged all the same, it is refunded in "
                        "full automatically."
                    )
                )
            raise SubscriptionError(
                _("The customer's card was declined (%(reason)s): the request stays pending.")
                % {"reason": attempt.reason}
            )
    _switch_now(sub, target, quote, now=now, invoice=invoice, actor=actor)
