"""Subscribing: the quote, the first invoice and its charge, and a trial's conversion."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from legal.models import TermsVersion
from legal.services import terms_acceptance_record
from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.models import (
    LIVE_STATUSES,
    BillingAccount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    Price,
    Subscription,
    SubscriptionStatus,
    TrialClaim,
)
from subscriptions.services.auditing import audit
from subscriptions.services.cards import card_used_for_another_trial
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.invoices import (
    invoice_amounts,
    invoice_issue,
    period_total,
    void_open_invoices,
)
from subscriptions.services.payments import charge_confirmed, invoice_charge, raise_if_failed
from subscriptions.services.periods import period_bounds
from subscriptions.services.trials import email_hash
from subscriptions.taxes import customer_tax

# --- subscribe -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutQuote:
    """What the subscribe page shows before the customer confirms, and what is then done."""

    price: Price
    subtotal: int
    tax: int
    total: int
    first_charge_at: datetime
    renews_at: datetime
    charged_now: bool
    first_charge: int  # the first invoice: `total` less free months or credit
    trial_forfeited: bool = False  # the saved card already served another trial (001)
    # The customer's VAT rule and rate (tax follows the customer, not the price).
    tax_treatment: policy.TaxTreatment | None = None

    @property
    def charge(self) -> policy.ShownCharge:
        """The first charge as the page shows it: at once, or on the trial's last day."""
        return policy.ShownCharge(
            self.first_charge,
            self.price.currency,
            None if self.charged_now else self.first_charge_at,
        )


def checkout_quote(*, user: User, price: Price, now: datetime) -> CheckoutQuote:
    live = Subscription.objects.filter(user=user, status__in=LIVE_STATUSES).first()
    trial = live if live and live.status == SubscriptionStatus.TRIALING else None
    start = trial.trial_ends_at if trial and trial.trial_ends_at else now
    treatment = customer_tax(user)
    forfeited = False
    if trial is not None and start > now:
        account = BillingAccount.objects.filter(user=user).first()
        # 001: one trial per card: a card that served another trial ends this one today.
        forfeited = account is not None and card_used_for_another_trial(user, account)
        if forfeited:
            start = now
    subtotal, tax, total = invoice_amounts(price, user)
    months = policy.MONTHS_PER_INTERVAL[price.interval]
    return CheckoutQuote(
        price=price,
        subtotal=subtotal,
        tax=tax,
        total=total,
        first_charge_at=start,
        renews_at=policy.add_months(start, months),
        charged_now=start <= now,
        first_charge=period_total(live, price, user),
        trial_forfeited=forfeited,
        tax_treatment=treatment,
    )


def trial_forfeited_message() -> str:
    return _(
        "This card has already been used for a free trial, so your trial ends today and the "
        "first payment is taken now. Nothing was charged: please check the amount and confirm."
    )


def subscribe(
    *,
    user: User,
    price: Price,
    now: datetime,
    shown: policy.ShownCharge | None = None,
    terms: TermsVersion | None = None,
) -> Subscription:
    """Subscribe with the saved card: a trial keeps its data and is billed at its end;
    anyone else is charged at once (the first invoice). `shown` is the first charge the
    confirmed page gave: anything else (a card that served another trial) does nothing and
    raises `QuoteChanged`, for the page to show the new quote. `terms` is the version the
    customer accepted on that page, recorded with the subscription in its transaction."""
    account = BillingAccount.objects.filter(user=user).first()
    if account is None or not account.has_card:
        raise SubscriptionError(_("Please add a card first."))
    if not price.is_active or not price.plan.is_active:
        raise SubscriptionError(_("This plan is no longer offered."))
    with transaction.atomic():
        User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        live = Subscription.objects.filter(user=user, status__in=LIVE_STATUSES).first()
        if live and live.status == SubscriptionStatus.TRIALING:
            forfeited = card_used_for_another_trial(user, account)
            start = now if forfeited or not live.trial_ends_at else live.trial_ends_at
            charge_confirmed(
                shown=shown,
                amount=period_total(live, price, user),
                currency=price.currency,
                at=None if start <= now else start,
                why=trial_forfeited_message() if forfeited else "",
            )
            if forfeited:
                # 001: one trial per card: this trial ends now and billing starts today.
                live.trial_ends_at = now
                live.next_billing_at = now
                audit(user=user, kind="trial_forfeited_card_reused", subscription=live)
            live.plan = price.plan
            live.price = price
            live.currency = price.currency
            if live.cancel_at is not None:
                # Choosing a plan after cancelling the trial is asking to continue after all.
                live.cancel_at = live.cancel_requested_at = None
                live.cancel_reason = ""
                audit(user=user, kind="cancellation_undone", subscription=live, charged=0)
            live.save(
                update_fields=[
                    "plan",
                    "price",
                    "currency",
                    "trial_ends_at",
                    "next_billing_at",
                    "cancel_at",
                    "cancel_requested_at",
                    "cancel_reason",
                ]
            )
            TrialClaim.objects.filter(
                email_hash=email_hash(user.email), card_fingerprint=""
            ).update(card_fingerprint=account.card_fingerprint)
            audit(
                user=user,
                kind="plan_chosen",
                subscription=live,
                price=price.pk,
                first_charge_at=live.trial_ends_at.isoformat() if live.trial_ends_at else "",
            )
            if terms is not None:
                terms_acceptance_record(user=user, version=terms, subscription=live, now=now)
            if live.next_billing_at and live.next_billing_at > now:
                emails.email_user(user, "subscription_scheduled", {"subscription": live})
                return live
            subscription = live
        elif live and live.status == SubscriptionStatus.INCOMPLETE:
            subscription = live
            if subscription.price_id != price.pk:
                void_open_invoices(subscription)
                subscription.plan = price.plan
                subscription.price = price
                subscription.currency = price.currency
                subscription.save(update_fields=["plan", "price", "currency"])
        elif live:
            raise SubscriptionError(_("You already have a subscription."))
        else:
            subscription = Subscription.objects.create(
                user=user,
                plan=price.plan,
                price=price,
                currency=price.currency,
                status=SubscriptionStatus.INCOMPLETE,
            )
            audit(user=user, kind="subscription_created", subscription=subscription, price=price.pk)
        if terms is not None and subscription.status != SubscriptionStatus.TRIALING:
            terms_acceptance_record(user=user, version=terms, subscription=subscription, now=now)
    # The customer is here: a decline is shown on the page (no dunning) and they try again.
    invoice = _first_invoice(
        subscription=subscription,
        start=now,
        now=now,
        unpaid=SubscriptionStatus.INCOMPLETE,
        shown=shown,
    )
    attempt = invoice_charge(invoice=invoice, trigger="checkout", now=now)
    subscription.refresh_from_db()
    raise_if_failed(attempt)
    return subscription


def trial_convert(*, subscription: Subscription, now: datetime) -> PaymentAttempt:
    """001: at the end of the trial, with a plan and a card, the first invoice is charged;
    a failure there follows the dunning schedule (004), the customer not being present."""
    start = subscription.trial_ends_at or now
    invoice = _first_invoice(
        subscription=subscription, start=start, now=now, unpaid=SubscriptionStatus.ACTIVE
    )
    return invoice_charge(invoice=invoice, trigger="trial_end", now=now)


def _first_invoice(
    *,
    subscription: Subscription,
    start: datetime,
    now: datetime,
    unpaid: str,
    shown: policy.ShownCharge | None = None,
) -> Invoice:
    with transaction.atomic():
        sub = lock(Subscription, subscription.pk, "price", "user")
        existing = Invoice.objects.filter(
            subscription=sub, kind=InvoiceKind.FIRST, status=InvoiceStatus.OPEN
        ).first()
        if existing:
            charge_confirmed(shown=shown, amount=existing.amount_due, currency=existing.currency)
            return existing
        if sub.price is None:
            raise SubscriptionError(_("Please choose a plan first."))
        charge_confirmed(
            shown=shown,
            amount=period_total(sub, sub.price, sub.user),
            currency=sub.price.currency,
        )
        sub.status = unpaid
        sub.anchor_at = start
        sub.period_index = 0
        sub.current_period_start, sub.current_period_end = period_bounds(
            anchor=start, index=0, price=sub.price
        )
        sub.next_billing_at = None
        sub.save(
            update_fields=[
                "status",
                "anchor_at",
                "period_index",
                "current_period_start",
                "current_period_end",
                "next_billing_at",
            ]
        )
        return invoice_issue(
            subscription=sub,
            kind=InvoiceKind.FIRST,
            period_start=sub.current_period_start,
            period_end=sub.current_period_end,
            now=now,
        )
