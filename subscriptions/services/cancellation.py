"""Cancelling in three clicks (003, 004, L215-1-1), undoing it, and ending on the date."""

import contextlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    LIVE_STATUSES,
    AttemptStatus,
    Invoice,
    InvoiceKind,
    RefundReason,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionConflict, SubscriptionError
from subscriptions.services.invoices import invoice_issue, period_total, void_open_invoices
from subscriptions.services.payments import charge_confirmed
from subscriptions.services.periods import pending_changes_close, price_terms
from subscriptions.services.plan_changes import (
    HELD_REASON,
    charge_or_void,
    outcome_unknown,
    refuse_if_charging,
    settle_later,
    unknown_outcome_error,
)
from subscriptions.services.refund_quotes import Reads, latest_payment, payments_refund, total
from subscriptions.services.refunds import (
    refund_made_already,
    refund_requests_create,
    refunds_send,
)
from subscriptions.services.trials import trial_expire

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
    # The payments each refund covers, with their parts (002: paid, refunded, kept).
    refund_parts: tuple[tuple[Invoice, int], ...] = ()
    guarantee_parts: tuple[tuple[Invoice, int], ...] = ()


@dataclass(frozen=True)
class CancellationEnd:
    """When the service ends if cancelled now, and whether a commitment holds: what the
    cancellation form states, before any refund is quoted on the summary."""

    at: datetime
    committed: bool


def cancellation_end(*, subscription: Subscription, now: datetime) -> CancellationEnd:
    sub = subscription
    if sub.status == SubscriptionStatus.TRIALING:
        # A trial is never billed once cancelled; it runs to its end, then its data is kept
        # for the export grace period.
        return CancellationEnd(sub.trial_ends_at or now, committed=False)
    if sub.price is None or sub.current_period_start is None or sub.current_period_end is None:
        return CancellationEnd(now, committed=False)
    terms = price_terms(sub.price)
    at = policy.cancellation_date(
        terms,
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        now=now,
    )
    return CancellationEnd(at, committed=terms.commitment_months > 0)


def cancellation_quote(*, subscription: Subscription, now: datetime) -> CancellationQuote:
    sub = subscription
    none = policy.RefundQuote(amount=0, currency=sub.currency, rule="none", ends_at=None)
    end = cancellation_end(subscription=sub, now=now)
    if sub.status == SubscriptionStatus.TRIALING or sub.price is None:
        return CancellationQuote(sub, end.at, none, None, None, committed=end.committed)
    if sub.current_period_start is None or sub.current_period_end is None:
        return CancellationQuote(sub, end.at, none, None, None, committed=end.committed)
    invoice = latest_payment(sub)
    refund, guarantee = none, None
    refund_parts: tuple[tuple[Invoice, int], ...] = ()
    guarantee_parts: tuple[tuple[Invoice, int], ...] = ()
    if invoice is not None:
        reads: Reads = {}  # both quotes are on the same payments: their rows are read once
        full = payments_refund(invoice=invoice, now=now, reads=reads)
        if full.quote.rule in ("guarantee", "renewal_grace"):
            guarantee = full.quote
            guarantee_parts = full.parts or ((invoice, full.quote.amount),)
        plain = payments_refund(invoice=invoice, now=now, skip_full_refunds=True, reads=reads)
        if plain.quote.rule == "remaining_months" and plain.quote.amount > 0:
            refund = plain.quote
            refund_parts = plain.parts or ((invoice, plain.quote.amount),)
    return CancellationQuote(
        sub,
        end.at,
        refund,
        guarantee,
        invoice,
        committed=end.committed,
        refund_parts=refund_parts,
        guarantee_parts=guarantee_parts,
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
    remaining_months: list[RefundRequest] = []
    if full_refund:
        if quote.guarantee is None or quote.invoice is None:
            raise SubscriptionError(_("A full refund is no longer possible for this payment."))
        refunded = refund_requests_create(
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
            # A scheduled downgrade is kept, not dropped: the service ends before it would
            # start, and undoing the cancellation restores it as it was.
            if sub.status != SubscriptionStatus.TRIALING:
                sub.next_billing_at = None
            sub.save(
                update_fields=[
                    "cancel_requested_at",
                    "cancel_reason",
                    "cancel_at",
                    "next_billing_at",
                ]
            )
            audit(
                user=user,
                kind="cancellation_requested",
                subscription=sub,
                ends_at=sub.cancel_at.isoformat(),
                reason_given=bool(reason.strip()),
            )
            if quote.refund.rule == "remaining_months" and quote.invoice is not None:
                # 004: the full months left after the current one are refunded at once; the
                # service runs to the date the summary gave. Recorded under the lock with the
                # cancellation, so a second click finds (and shows) the refund; sent below.
                # A refund already standing on this payment stays as it is.
                with contextlib.suppress(SubscriptionConflict):
                    refunded = remaining_months = refund_requests_create(
                        user=user,
                        invoice=quote.invoice,
                        reason=RefundReason.CANCELLATION,
                        details=reason,
                        now=now,
                        ends_at=quote.ends_at,
                        skip_full_refunds=True,
                        quoted_at=quoted_at,
                        send=False,
                    )
    refunds_send(rows=remaining_months, now=now)
    sub = Subscription.objects.select_related("plan", "user").get(pk=subscription.pk)
    full_refund_until = None
    if not refunded and quote.guarantee is not None and quote.invoice is not None:
        # The full refund was offered and not taken: it can still be asked until then.
        full_refund_until = payments_refund(invoice=quote.invoice, now=quoted_at).holds_until
    emails.email_user(
        user,
        "cancellation_confirmed",
        {
            "subscription": sub,
            "refund": total(refunded),
            "trial": sub.status == SubscriptionStatus.TRIALING,
            "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS,
            "full_refund_until": full_refund_until,
        },
    )
    return sub, refunded


def cancellation_undo(
    *,
    user: User,
    subscription: Subscription,
    now: datetime,
    shown: policy.ShownCharge | None = None,
) -> Subscription:
    """ "Keep my subscription": one click, until the end date. Months already refunded on
    cancelling are charged again, as the page says before the click (`shown`)."""
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
            refund_made_already(refund=refund, now=now)
        except gateway.GatewayError as exc:
            raise SubscriptionError(
                _("The payment service is unavailable, please try again in a few minutes.")
            ) from exc
    with transaction.atomic():
        sub = lock(Subscription, subscription.pk, "price", "user")
        if sub.user_id != user.pk:
            raise SubscriptionError(_("This cancellation can no longer be undone."))
        if sub.status in LIVE_STATUSES and sub.cancel_at is None:  # undone by another click
            raise SubscriptionConflict(
                _("Your subscription already continues: there is no cancellation to undo.")
            )
        if sub.status not in LIVE_STATUSES or sub.cancel_at is None or sub.cancel_at <= now:
            raise SubscriptionError(_("This cancellation can no longer be undone."))
        refuse_if_charging(sub, now)
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
        charge_confirmed(shown=shown, amount=amount, currency=sub.currency)
        invoice = None
        if amount > 0 and sub.price is not None:
            # Taxed as the payment the refunds came from: their credit notes gave its VAT back.
            original = charged_back[0].invoice
            invoice = invoice_issue(
                subscription=sub,
                kind=InvoiceKind.PRORATION,
                period_start=sub.cancel_at,
                period_end=sub.current_period_end or sub.cancel_at,
                now=now,
                lines=[
                    (
                        f"Months refunded on cancellation, charged again (invoice "
                        f"{original.number}) / Mois remboursés à la résiliation, facturés à "
                        f"nouveau (facture {original.number})",
                        amount,
                    )
                ],
                reverses=original,
            )
            settle_later(invoice, now)
            # Marked now, under the lock: a second click finds nothing left to charge again.
            RefundRequest.objects.filter(pk__in=[r.pk for r in charged_back]).update(
                charged_back_by=invoice
            )
    if invoice is not None:
        attempt = charge_or_void(invoice, trigger="undo_cancel", now=now)
        if attempt.status != AttemptStatus.SUCCEEDED:
            # The cancellation stays: so do its refunds, as they were (a charge Stripe took
            # without our hearing is refunded when the billing run finds it).
            RefundRequest.objects.filter(charged_back_by=invoice).update(charged_back_by=None)
            RefundRequest.objects.filter(pk__in=held).update(
                status=RefundStatus.FAILED, next_attempt_at=now, decided_at=None, decision_reason=""
            )
            if outcome_unknown(attempt):
                raise unknown_outcome_error()
            raise SubscriptionError(
                _("The payment did not go through (%(reason)s): your cancellation stays in place.")
                % {"reason": attempt.reason}
            )
    with transaction.atomic():
        sub = lock(
            Subscription, subscription.pk, "user", "price", "price__plan", "scheduled_price__plan"
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
            scheduled=sub.scheduled_price.plan.code if sub.scheduled_price else "",
        )
        renewal_price = sub.scheduled_price or sub.price
        emails.email_user(
            user,
            "cancellation_undone",
            {
                "subscription": sub,
                "charged": invoice,
                "renewal_price": renewal_price,
                "renewal_amount": (
                    period_total(sub, renewal_price, sub.user) if renewal_price else 0
                ),
            },
        )
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
        )
        .select_related("invoice")
        .order_by("pk")
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
        sub = lock(Subscription, subscription.pk, "user")
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
