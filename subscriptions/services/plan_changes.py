"""Changing plan (001, 004). Every quote comes from `policy`; the confirmation re-computes
it at the moment the customer was shown (`quoted_at`, signed in the form), so what they
confirmed is what is charged."""

from datetime import datetime, timedelta

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    AttemptStatus,
    BillingAccount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    Price,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.auditing import audit
from subscriptions.services.credit_notes import credit_for_subscription
from subscriptions.services.errors import SubscriptionConflict, SubscriptionError
from subscriptions.services.invoices import (
    INTERVAL_WORDS,
    credit_split,
    invoice_issue,
    invoice_void,
)
from subscriptions.services.payments import (
    STALE_ATTEMPT,
    STRIPE_UNREACHABLE_RETRY,
    charge_confirmed,
    invoice_charge,
    payment_result_apply,
)
from subscriptions.services.periods import period_bounds, price_terms
from subscriptions.services.refund_quotes import existing_request
from subscriptions.services.refunds import unapplied_change_refund
from subscriptions.taxes import customer_tax

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
    if target.currency != subscription.currency:
        # A subscription keeps the currency it was bought in, for every change.
        raise SubscriptionError(_("This plan is not offered in the currency of your subscription."))
    terms = price_terms(current)
    treatment = customer_tax(subscription.user)
    if ignore_commitment:
        terms = policy.Terms(
            interval=terms.interval,
            guarantee_days=terms.guarantee_days,
            renewal_grace_business_days=terms.renewal_grace_business_days,
        )
    return policy.plan_change_quote(
        terms,
        current.plan.rank,
        current.amounts_for(treatment).total,
        price_terms(target),
        target.plan.rank,
        target.amounts_for(treatment).total,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
        now=now,
        currency=subscription.currency,
    )


def quote_token(
    *, subscription: Subscription, target: Price, quoted_at: datetime, amount: int | None = None
) -> str:
    """Signed (subscription, target, moment, amount charged now) carried by the confirmation
    form: the amount is the one the page shows, compared before anything is charged."""
    return signing.dumps(
        [subscription.pk, target.pk, quoted_at.isoformat(), amount],
        salt=_SIGNER_SALT,
        compress=True,
    )


def _quoted_at(
    token: str, *, subscription: Subscription, target: Price, now: datetime
) -> tuple[datetime, int | None]:
    try:
        sub_pk, target_pk, moment, *shown = signing.loads(
            token, salt=_SIGNER_SALT, max_age=QUOTE_VALIDITY
        )
        quoted_at = datetime.fromisoformat(moment)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise SubscriptionError(
            _("This quote has expired: please look at the new amount and confirm again.")
        ) from exc
    if sub_pk != subscription.pk or target_pk != target.pk or quoted_at > now:
        raise SubscriptionError(
            _("This quote has expired: please look at the new amount and confirm again.")
        )
    amount = shown[0] if shown and isinstance(shown[0], int) else None
    return quoted_at, amount


# --- changing plan (001, 004) ----------------------------------------------------------------


def plan_change(
    *,
    user: User,
    subscription: Subscription,
    target: Price,
    token: str,
    now: datetime,
    shown: policy.ShownCharge | None = None,
) -> Subscription:
    """Do what the quote said: an upgrade now with its prorated charge (a failed charge leaves
    the old plan), a downgrade from the next period, a review under a commitment. `shown`
    is the charge the confirmed page gave (nothing, for a downgrade)."""
    if subscription.user_id != user.pk:
        raise SubscriptionError(_("This subscription cannot change plan now."))
    quoted_at, shown_amount = _quoted_at(token, subscription=subscription, target=target, now=now)
    if shown is None and shown_amount is not None:
        shown = policy.ShownCharge(shown_amount, subscription.currency)
    with transaction.atomic():
        sub = lock(Subscription, subscription.pk, "price", "price__plan", "plan", "user")
        refuse_unless_changeable(sub)
        if sub.price_id == target.pk:  # confirmed twice: the first confirmation made it
            raise SubscriptionConflict(
                _("This change is already made: you are on %(plan)s.") % {"plan": target.plan.name}
            )
        if sub.scheduled_price_id == target.pk:
            raise SubscriptionConflict(
                _("This change is already scheduled for your next period: nothing more to do.")
            )
        refuse_if_charging(sub, quoted_at)
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
        # The account's credit pays first (it is shown so): the card is asked for the rest.
        _from_credit, by_card = credit_split(sub, quote.amount_due)
        charge_confirmed(shown=shown, amount=by_card, currency=sub.currency)
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
            invoice = invoice_issue(
                subscription=sub,
                kind=InvoiceKind.PRORATION,
                period_start=start,
                period_end=end,
                now=now,
                price=target,
                lines=[(_change_line(old_price, target), quote.amount_due)],
                use_credit=True,
            )
            settle_later(invoice, now)
    if invoice is not None:
        attempt = charge_or_void(invoice, trigger="plan_change", now=now)
        if attempt.status != AttemptStatus.SUCCEEDED:
            audit(
                user=user,
                kind="plan_change_failed",
                subscription=subscription,
                target=target.plan.code,
                code=attempt.failure_code,
            )
            if outcome_unknown(attempt):
                raise unknown_outcome_error()
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
    return switch_now(subscription, target, quote, now=now, invoice=invoice)


def refuse_unless_changeable(subscription: Subscription) -> None:
    """Pending states first (docs/policy.md 8): the customer is told what stands in the way."""
    if subscription.status == SubscriptionStatus.TRIALING:
        raise SubscriptionError(
            _(
                "During your trial, choose your plan on the subscription page: it is billed "
                "when the trial ends."
            )
        )
    if subscription.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.SUSPENDED):
        raise SubscriptionError(
            _("Your last payment has not gone through: please pay the open invoice first.")
        )
    if subscription.cancel_at is not None:
        raise SubscriptionError(
            _("Your cancellation is recorded: keep your subscription first, then change plan.")
        )
    if subscription.status not in CHANGEABLE:
        raise SubscriptionError(_("This subscription cannot change plan now."))


def _change_line(old: Price, target: Price) -> str:
    """The upgrade's invoice line in both languages (the invoice is a legal document)."""
    en, fr = INTERVAL_WORDS[target.interval]
    return (
        f"{old.plan.name_en} -> {target.plan.name_en}, {en}, prorated / "
        f"{old.plan.name_fr} -> {target.plan.name_fr}, {fr}, au prorata"
    )


def refuse_if_charging(subscription: Subscription, since: datetime) -> None:
    """Under the subscription's lock: a change whose payment is still being taken, or was
    taken after the quote being confirmed was shown (a second click, another tab), is not
    made again, so it is never charged twice."""
    if (
        Invoice.objects.filter(subscription=subscription, kind=InvoiceKind.PRORATION)
        .filter(Q(status=InvoiceStatus.OPEN) | Q(status=InvoiceStatus.PAID, paid_at__gte=since))
        .exists()
    ):
        raise SubscriptionConflict(
            _("A payment for a change to this subscription is in progress: please wait.")
        )


SETTLE_DELAY = timedelta(minutes=15)


def settle_later(invoice: Invoice, now: datetime) -> None:
    """Set when a change's invoice is issued: should the worker die while Stripe is asked,
    the billing run looks the payment up (never sends it again)."""
    invoice.next_retry_at = now + SETTLE_DELAY
    invoice.save(update_fields=["next_retry_at"])


def charge_or_void(invoice: Invoice, *, trigger: str, now: datetime) -> PaymentAttempt:
    """Charge a change's invoice while the customer waits: declined, it is void (no dunning)
    and the change does not happen. When Stripe did not answer, nobody can tell yet whether
    the card was charged: the change does not happen, and the invoice stays open until the
    billing run finds out (`change_payment_settle`)."""
    attempt = invoice_charge(invoice=invoice, trigger=trigger, now=now)
    if attempt.status == AttemptStatus.SUCCEEDED:
        return attempt
    if outcome_unknown(attempt):
        Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.OPEN).update(
            next_retry_at=now + SETTLE_DELAY
        )
    else:
        _void(invoice)
    return attempt


def outcome_unknown(attempt: PaymentAttempt) -> bool:
    return attempt.status == AttemptStatus.PENDING or (
        attempt.status == AttemptStatus.FAILED and attempt.failure_code == "unavailable"
    )


def _void(invoice: Invoice) -> None:
    invoice_void(invoice, first_failed_at=None)


def unknown_outcome_error() -> SubscriptionError:
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
        unapplied_change_refund(invoice=inv, now=now)
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
    unapplied_change_refund(invoice=inv, now=now)
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
            if existing_request(refund.invoice) is not None:
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


def switch_now(
    subscription: Subscription,
    target: Price,
    quote: policy.PlanChangeQuote,
    *,
    now: datetime,
    invoice: Invoice | None,
    actor: User | None = None,
) -> Subscription:
    with transaction.atomic():
        sub = lock(Subscription, subscription.pk, "plan", "user")
        old_plan, old_code = sub.plan.name, sub.plan.code
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
        if quote.credit > 0:
            credit_for_subscription(subscription_id=sub.pk, amount=quote.credit, now=now)
        if invoice is not None:
            Invoice.objects.filter(pk=invoice.pk).update(next_retry_at=None)  # settled
        audit(
            user=sub.user,
            actor=actor,
            kind="plan_changed",
            subscription=sub,
            old=old_code,
            new=target.plan.code,
            currency=sub.currency,
            charged=quote.amount_due,
            credit=quote.credit,
            invoice=invoice.number if invoice else "",
        )
        emails.email_user(
            sub.user,
            "plan_changed",
            {"subscription": sub, "invoice": invoice, "old_plan": old_plan, "quote": quote},
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
