"""Every change to subscriptions, invoices and payments: one function per use case.

Each function owns its transaction, locks the rows it changes, records an audit event,
queues e-mails after commit and calls Stripe outside the transaction with an idempotency
key derived from our own row (DESIGN.md, STYLE.md).
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from subscriptions import emails, policy
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    LIVE_STATUSES,
    AttemptStatus,
    AuditEvent,
    BillingAccount,
    ChangeRequestStatus,
    ContractChangeRequest,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    PaymentAttempt,
    Plan,
    Price,
    Subscription,
    SubscriptionStatus,
    TaxBehavior,
    TrialClaim,
)

logger = logging.getLogger(__name__)

TRIAL_DAYS = 15  # 001
TRIAL_WARNING_DAYS = 3  # 001: "quelques jours avant la fin"
BATCH_SIZE = 200


class SubscriptionError(Exception):
    """A rule or a payment said no; the message is shown to the customer as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- audit -----------------------------------------------------------------------------------


def audit(
    *,
    user: User | None,
    kind: str,
    subscription: Subscription | None = None,
    actor: User | None = None,
    **data: Any,
) -> AuditEvent:
    return AuditEvent.objects.create(
        user=user, actor=actor, subscription=subscription, kind=kind, data=data
    )


# --- terms and periods -----------------------------------------------------------------------


def price_terms(price: Price) -> policy.Terms:
    return policy.Terms(
        interval=price.interval,
        commitment_months=price.commitment_months,
        guarantee_days=price.guarantee_days,
        renewal_grace_business_days=price.renewal_grace_business_days,
    )


def period_bounds(*, anchor: datetime, index: int, price: Price) -> tuple[datetime, datetime]:
    """Period `index` of a subscription anchored at `anchor`: calendar months, clamped."""
    months = policy.MONTHS_PER_INTERVAL[price.interval]
    return (
        policy.add_months(anchor, index * months),
        policy.add_months(anchor, (index + 1) * months),
    )


def _email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


# --- trial (001) -----------------------------------------------------------------------------


def trial_start(*, user: User, plan: Plan, now: datetime) -> Subscription:
    """A 15-day trial without a card; one per customer (same e-mail, or later same card)."""
    if not EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists():
        raise SubscriptionError(_("Please verify your e-mail address before starting a trial."))
    dates = policy.trial_dates(now, length_days=TRIAL_DAYS, warning_days=TRIAL_WARNING_DAYS)
    with transaction.atomic():
        User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        if Subscription.objects.filter(user=user, status__in=LIVE_STATUSES).exists():
            raise SubscriptionError(_("You already have a subscription."))
        billing = BillingAccount.objects.filter(user=user).first()
        used = TrialClaim.objects.filter(email_hash=_email_hash(user.email)).exists() or (
            billing is not None
            and billing.card_fingerprint != ""
            and TrialClaim.objects.filter(card_fingerprint=billing.card_fingerprint).exists()
        )
        if used:
            raise SubscriptionError(
                _("You have already used your free trial: you can subscribe to a plan instead.")
            )
        try:
            with transaction.atomic():
                TrialClaim.objects.create(
                    email_hash=_email_hash(user.email),
                    card_fingerprint=billing.card_fingerprint if billing else "",
                )
        except IntegrityError as exc:
            raise SubscriptionError(
                _("You have already used your free trial: you can subscribe to a plan instead.")
            ) from exc
        subscription = Subscription.objects.create(
            user=user,
            plan=plan,
            status=SubscriptionStatus.TRIALING,
            currency=_default_currency(user),
            trial_started_at=now,
            trial_ends_at=dates.ends_at,
            next_billing_at=dates.ends_at,
        )
        audit(
            user=user,
            kind="trial_started",
            subscription=subscription,
            plan=plan.code,
            ends_at=dates.ends_at.isoformat(),
        )
        emails.email_user(user, "trial_started", {"subscription": subscription})
    return subscription


def _default_currency(user: User) -> str:
    return {"GB": "GBP", "US": "USD"}.get(user.country, "EUR")


def trial_warn(*, subscription: Subscription, now: datetime) -> bool:
    """001: a warning e-mail 3 days before the trial ends; sent once."""
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("user", "price")
            .get(pk=subscription.pk)
        )
        if sub.status != SubscriptionStatus.TRIALING or sub.trial_warning_sent_at:
            return False
        sub.trial_warning_sent_at = now
        sub.save(update_fields=["trial_warning_sent_at"])
        audit(user=sub.user, kind="trial_warning_sent", subscription=sub)
        emails.email_user(
            sub.user,
            "trial_ending",
            {"subscription": sub, "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS},
        )
    return True


def trial_expire(*, subscription: Subscription, now: datetime) -> bool:
    """A trial that ends without a plan and a card: read-only, data deleted after a grace."""
    dates = policy.trial_dates(
        subscription.trial_started_at or now,
        length_days=TRIAL_DAYS,
        warning_days=TRIAL_WARNING_DAYS,
        purge_grace_days=settings.TRIAL_PURGE_GRACE_DAYS,
    )
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=subscription.pk)
        )
        if sub.status != SubscriptionStatus.TRIALING:
            return False
        sub.status = SubscriptionStatus.EXPIRED
        sub.ended_at = now
        sub.next_billing_at = None
        sub.purge_at = dates.purge_at
        sub.save(update_fields=["status", "ended_at", "next_billing_at", "purge_at"])
        audit(
            user=sub.user,
            kind="trial_expired",
            subscription=sub,
            purge_at=dates.purge_at.isoformat(),
        )
        emails.email_user(sub.user, "trial_expired", {"subscription": sub})
    return True


# --- card (Stripe.js SetupIntent) ------------------------------------------------------------


def billing_account_for(*, user: User) -> BillingAccount:
    """The customer's billing account, with a Stripe customer (created once)."""
    account, _created = BillingAccount.objects.get_or_create(user=user)
    if not account.stripe_customer_id:
        customer_id = gateway.customer_create(
            email=user.email, name=user.name or user.email, user_id=user.pk
        )
        BillingAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(
            stripe_customer_id=customer_id
        )
        account.refresh_from_db()
    return account


def card_setup_start(*, user: User) -> str:
    """The client secret of a SetupIntent for Stripe.js to collect a card."""
    try:
        account = billing_account_for(user=user)
        return gateway.setup_intent_create(customer_id=account.stripe_customer_id)
    except gateway.GatewayError as exc:
        raise SubscriptionError(exc.message) from exc


def card_save(*, user: User, setup_intent_id: str) -> BillingAccount:
    """Keep the card a SetupIntent saved as the default; detach the one it replaces."""
    account = billing_account_for(user=user)
    try:
        pm_id = gateway.setup_intent_payment_method(
            setup_intent_id=setup_intent_id, customer_id=account.stripe_customer_id
        )
        card = gateway.card_attach(customer_id=account.stripe_customer_id, payment_method_id=pm_id)
    except gateway.GatewayError as exc:
        raise SubscriptionError(exc.message) from exc
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
        old = account.payment_method_id
        account.payment_method_id = card.payment_method_id
        account.card_brand = card.brand
        account.card_last4 = card.last4
        account.card_exp_month = card.exp_month
        account.card_exp_year = card.exp_year
        account.card_fingerprint = card.fingerprint
        account.save()
        audit(user=user, kind="card_saved", brand=card.brand, last4=card.last4)
    if old and old != card.payment_method_id:
        try:
            gateway.card_detach(old)
        except gateway.GatewayError:
            logger.warning("could not detach %s; it stays attached but unused", old)
    return account


def _card_used_for_another_trial(user: User, account: BillingAccount) -> bool:
    if not account.card_fingerprint:
        return False
    return (
        TrialClaim.objects.filter(card_fingerprint=account.card_fingerprint)
        .exclude(email_hash=_email_hash(user.email))
        .exists()
    )


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


def checkout_quote(*, user: User, price: Price, now: datetime) -> CheckoutQuote:
    trial = Subscription.objects.filter(user=user, status=SubscriptionStatus.TRIALING).first()
    start = trial.trial_ends_at if trial and trial.trial_ends_at else now
    subtotal, tax, total = invoice_amounts(price)
    months = policy.MONTHS_PER_INTERVAL[price.interval]
    return CheckoutQuote(
        price=price,
        subtotal=subtotal,
        tax=tax,
        total=total,
        first_charge_at=start,
        renews_at=policy.add_months(start, months),
        charged_now=start <= now,
    )


def invoice_amounts(price: Price) -> tuple[int, int, int]:
    """(subtotal, tax, total) in minor units for one period of a price."""
    tax = price.tax_amount
    if price.tax_behavior == TaxBehavior.EXCLUSIVE:
        return price.amount, tax, price.amount + tax
    return price.amount - tax, tax, price.amount


def subscribe(*, user: User, price: Price, now: datetime) -> Subscription:
    """Subscribe with the saved card: a trial keeps its data and is billed at its end;
    anyone else is charged at once (the first invoice)."""
    account = BillingAccount.objects.filter(user=user).first()
    if account is None or not account.has_card:
        raise SubscriptionError(_("Please add a card first."))
    if not price.is_active or not price.plan.is_active:
        raise SubscriptionError(_("This plan is no longer offered."))
    with transaction.atomic():
        User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        live = Subscription.objects.filter(user=user, status__in=LIVE_STATUSES).first()
        if live and live.status == SubscriptionStatus.TRIALING:
            if _card_used_for_another_trial(user, account):
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
                email_hash=_email_hash(user.email), card_fingerprint=""
            ).update(card_fingerprint=account.card_fingerprint)
            audit(
                user=user,
                kind="plan_chosen",
                subscription=live,
                price=price.pk,
                first_charge_at=live.trial_ends_at.isoformat() if live.trial_ends_at else "",
            )
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
    # The customer is here: a decline is shown on the page (no dunning) and they try again.
    invoice = _first_invoice(
        subscription=subscription, start=now, now=now, unpaid=SubscriptionStatus.INCOMPLETE
    )
    attempt = invoice_charge(invoice=invoice, trigger="checkout", now=now)
    subscription.refresh_from_db()
    _raise_if_failed(attempt)
    return subscription


def void_open_invoices(subscription: Subscription) -> None:
    """Nothing more is owed on this subscription. A change's invoice still open is not
    touched: whether Stripe took its payment is settled by the billing run."""
    Invoice.objects.filter(subscription=subscription, status=InvoiceStatus.OPEN).exclude(
        kind=InvoiceKind.PRORATION
    ).update(status=InvoiceStatus.VOID, next_retry_at=None)


def _trial_convert(*, subscription: Subscription, now: datetime) -> PaymentAttempt:
    """001: at the end of the trial, with a plan and a card, the first invoice is charged;
    a failure there follows the dunning schedule (004), the customer not being present."""
    start = subscription.trial_ends_at or now
    invoice = _first_invoice(
        subscription=subscription, start=start, now=now, unpaid=SubscriptionStatus.ACTIVE
    )
    return invoice_charge(invoice=invoice, trigger="trial_end", now=now)


def _first_invoice(
    *, subscription: Subscription, start: datetime, now: datetime, unpaid: str
) -> Invoice:
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("price", "user")
            .get(pk=subscription.pk)
        )
        existing = Invoice.objects.filter(
            subscription=sub, kind=InvoiceKind.FIRST, status=InvoiceStatus.OPEN
        ).first()
        if existing:
            return existing
        if sub.price is None:
            raise SubscriptionError(_("Please choose a plan first."))
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
        return _invoice_issue(
            subscription=sub,
            kind=InvoiceKind.FIRST,
            period_start=sub.current_period_start,
            period_end=sub.current_period_end,
            now=now,
        )


def _invoice_issue(
    *,
    subscription: Subscription,
    kind: str,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    price: Price | None = None,
    lines: list[tuple[str, int]] | None = None,
    untaxed: bool = False,
) -> Invoice:
    """Issue a numbered invoice (inside the caller's transaction).

    `lines` are (description, amount tax included); without them the invoice bills one
    period of the price, less a free month (003) or the account's credit when there is one.
    `untaxed` bills amounts whose tax was paid on an earlier invoice and never refunded
    (months charged again after a cancellation is undone).
    """
    price = price or subscription.price
    if price is None:
        raise SubscriptionError(_("Please choose a plan first."))
    user = subscription.user
    plan_line = plan_line_for(price)
    if lines is None:
        lines = [(plan_line, price.total_amount)]
        if kind in (InvoiceKind.FIRST, InvoiceKind.RENEWAL):
            lines += _adjustments(subscription, price, price.total_amount)
    total = max(0, sum(amount for _label, amount in lines))
    tax_rate_bps = 0 if untaxed else price.tax_rate_bps
    if lines == [(plan_line, price.total_amount)]:
        subtotal, tax, total = invoice_amounts(price)
    else:
        subtotal, tax = split_tax(total, tax_rate_bps)
    invoice = Invoice.objects.create(
        number=_next_invoice_number(now),
        user=user,
        subscription=subscription,
        price=price,
        kind=kind,
        currency=price.currency,
        subtotal=subtotal,
        tax=tax,
        total=total,
        tax_rate_bps=tax_rate_bps,
        period_start=period_start,
        period_end=period_end,
        issued_at=now,
        seller={
            "name": settings.VENDOR_NAME,
            "address": settings.VENDOR_ADDRESS,
            "vat_number": settings.VENDOR_VAT_NUMBER,
        },
        buyer={
            "name": user.name,
            "company": user.company,
            "email": user.email,
            "address_line1": user.address_line1,
            "address_line2": user.address_line2,
            "postal_code": user.postal_code,
            "city": user.city,
            "country": user.country,
        },
        language=user.language,
    )
    nets = [split_tax(amount, tax_rate_bps)[0] for _label, amount in lines]
    nets[-1] += subtotal - sum(nets)  # rounding: the lines add up to the subtotal
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            description=label,
            amount=net,
            period_start=period_start,
            period_end=period_end,
        )
        for (label, _amount), net in zip(lines, nets, strict=True)
    )
    audit(
        user=user,
        kind="invoice_issued",
        subscription=subscription,
        invoice=invoice.number,
        total=total,
        currency=price.currency,
    )
    return invoice


INTERVAL_WORDS = {"month": ("monthly", "mensuel"), "year": ("yearly", "annuel")}


def plan_line_for(price: Price) -> str:
    """An invoice line in both languages, e.g. "Pro, monthly / Pro, mensuel"."""
    en, fr = INTERVAL_WORDS[price.interval]
    return f"{price.plan.name_en}, {en} / {price.plan.name_fr}, {fr}"


def split_tax(total: int, tax_rate_bps: int) -> tuple[int, int]:
    """(net, tax) of an amount that includes tax, to the nearest minor unit."""
    net = (total * 10000 * 2 + (10000 + tax_rate_bps)) // (2 * (10000 + tax_rate_bps))
    return net, total - net


def _adjustments(subscription: Subscription, price: Price, amount: int) -> list[tuple[str, int]]:
    """Lines taken off a period's invoice: free months (003), then the account's credit.
    The subscription row is locked by the caller; the counters go down here."""
    lines: list[tuple[str, int]] = []
    if subscription.free_months > 0:
        months = policy.MONTHS_PER_INTERVAL[price.interval]
        used = min(subscription.free_months, months)
        subscription.free_months -= used
        subscription.save(update_fields=["free_months"])
        amount -= amount * used // months
        lines.append(
            (
                f"Free months (switching offer): {used} / "
                f"Mois offerts (changement de fournisseur) : {used}",
                -(price.total_amount * used // months),
            )
        )
    if subscription.credit > 0 and amount > 0:
        used = min(subscription.credit, amount)
        subscription.credit -= used
        subscription.save(update_fields=["credit"])
        lines.append(("Credit from your previous plan / Avoir de votre offre précédente", -used))
    return lines


def _next_invoice_number(now: datetime) -> str:
    """Gapless per year: one locked counter row per year, taken inside the caller's
    transaction, so a rolled-back invoice gives its number back."""
    year = now.year
    InvoiceSequence.objects.get_or_create(year=year)
    sequence = InvoiceSequence.objects.select_for_update(of=("self",)).get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{year}-{sequence.last_number:06d}"


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
        if inv.total == 0:  # a free month (003) or a credit covered it: nothing to charge
            attempt = PaymentAttempt.objects.create(
                invoice=inv,
                number=(last.number + 1) if last else 1,
                amount=0,
                currency=inv.currency,
                trigger=trigger,
                status=AttemptStatus.SUCCEEDED,
            )
            _invoice_paid(invoice=inv, charge_id="", now=now)
            return attempt
        account = BillingAccount.objects.filter(user__invoices=inv).first()
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
                invoice=inv,
                number=(last.number + 1) if last else 1,
                amount=inv.total,
                currency=inv.currency,
                trigger=trigger,
                payment_method_id=card,
            )
        if inv.kind != InvoiceKind.PRORATION and not _checkout_waiting(inv):
            # Should this worker die before Stripe answers, the billing run sends the same
            # attempt again later; any answer below replaces this date.
            inv.next_retry_at = max(inv.next_retry_at or now, now + STRIPE_UNREACHABLE_RETRY)
            inv.save(update_fields=["next_retry_at"])
    if account is None or not has_card:
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
            description=f"Invoice {inv.number}",
            metadata={"portal_invoice": inv.number, "portal_attempt": str(attempt.pk)},
        )
    except gateway.GatewayError as exc:
        # Stripe could not be reached: no money moved. Not the customer's failure: no
        # e-mail, no dunning step; the billing run tries again within the hour.
        return _attempt_unreachable(attempt=attempt, message=exc.message, now=now)
    return payment_result_apply(attempt=attempt, result=result, now=now)


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
        inv = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("subscription")
            .get(pk=att.invoice_id)
        )
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
        att = (
            PaymentAttempt.objects.select_for_update(of=("self",))
            .select_related("invoice")
            .get(pk=attempt.pk)
        )
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


def _invoice_paid(*, invoice: Invoice, charge_id: str, now: datetime, quiet: bool = False) -> None:
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
            amount=invoice.total,
            currency=invoice.currency,
            late=True,
        )
        return
    sub = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("user", "price")
        .get(invoices=invoice)
    )
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
        amount=invoice.total,
        currency=invoice.currency,
        reactivated=reactivated,
    )
    emails.email_user(
        sub.user, "receipt", {"subscription": sub, "invoice": invoice, "reactivated": reactivated}
    )


def _invoice_failed(
    *, invoice: Invoice, attempt: PaymentAttempt, now: datetime, needs_authentication: bool
) -> None:
    """004: retried 3 times over 7 days (days 1, 3, 7), an e-mail at each failure, then the
    subscription is suspended."""
    sub = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("user", "price")
        .get(invoices=invoice)
    )
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
    sub.save(update_fields=["status", "suspended_at"])
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


def _raise_if_failed(attempt: PaymentAttempt) -> None:
    if attempt.status != AttemptStatus.FAILED:
        return
    if attempt.failure_code == "unavailable":
        raise SubscriptionError(attempt.failure_message)
    raise SubscriptionError(
        _("Your card was declined (%(reason)s): please try another card.")
        % {"reason": attempt.reason}
    )


def invoice_pay_now(*, user: User, invoice: Invoice, now: datetime) -> PaymentAttempt:
    """The customer's "pay now" (after updating the card): charge the open invoice at once.
    A change's invoice is paid only by the change itself."""
    if invoice.user_id != user.pk or invoice.kind == InvoiceKind.PRORATION:
        raise SubscriptionError(_("This invoice cannot be paid."))
    attempt = invoice_charge(invoice=invoice, trigger="customer", now=now)
    _raise_if_failed(attempt)
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
            inv.amount_refunded = refunded
            inv.save(update_fields=["amount_refunded"])
    return inv


def pending_changes_close(subscription: Subscription) -> int:
    """A subscription that ends (or will end) has no contract left to change: its pending
    change requests are withdrawn, so staff cannot approve one afterwards (000)."""
    return ContractChangeRequest.objects.filter(
        subscription=subscription, status=ChangeRequestStatus.PENDING
    ).update(status=ChangeRequestStatus.WITHDRAWN)


# --- renewals (000, 002, 004) ----------------------------------------------------------------


def subscription_renew(*, subscription: Subscription, now: datetime) -> Invoice | None:
    """Charged in advance on the same day each month or year: issue the next period's
    invoice and charge it. Running twice, or on two workers, bills the period once."""
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("price", "user")
            .get(pk=subscription.pk)
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
        changed_plan = None
        if sub.scheduled_price is not None:
            # 004: a downgrade starts with the next billing period.
            changed_plan = sub.plan.name_en
            if sub.scheduled_price.interval != sub.price.interval:
                sub.anchor_at, sub.period_index = sub.next_billing_at, -1
            sub.price, sub.plan = sub.scheduled_price, sub.scheduled_price.plan
            sub.scheduled_price = None
        sub.period_index += 1
        sub.current_period_start, sub.current_period_end = period_bounds(
            anchor=sub.anchor_at, index=sub.period_index, price=sub.price
        )
        sub.next_billing_at = None  # set again when the invoice is paid
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
            ]
        )
        if changed_plan:
            audit(
                user=sub.user,
                kind="plan_changed",
                subscription=sub,
                old=changed_plan,
                new=sub.plan.code,
                scheduled=True,
            )
        invoice = _invoice_issue(
            subscription=sub,
            kind=InvoiceKind.RENEWAL,
            period_start=sub.current_period_start,
            period_end=sub.current_period_end,
            now=now,
        )
    invoice_charge(invoice=invoice, trigger="renewal", now=now)
    return invoice


def renewal_remind(*, subscription: Subscription, now: datetime) -> bool:
    """002/004: before each renewal, an e-mail with the amount and the date; once per period."""
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("price", "price__plan", "scheduled_price__plan", "user")
            .get(pk=subscription.pk)
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
        # What will be billed: a scheduled downgrade starts with this renewal (004).
        price = sub.scheduled_price or sub.price
        _subtotal, _tax, total = invoice_amounts(price)
        audit(user=sub.user, kind="renewal_reminder_sent", subscription=sub, due=due.isoformat())
        emails.email_user(
            sub.user,
            "renewal_reminder",
            {"subscription": sub, "plan": price.plan, "amount": total, "due": due},
        )
    return True


# --- the billing run (Celery beat) ------------------------------------------------------------


def billing_run(*, now: datetime) -> dict[str, int]:
    """Everything due at `now`, each item in its own transaction. Every query is on an
    indexed due date, so the cost follows what is due, not the number of customers. One
    item that fails is logged and counted; it never stops the others."""
    from accounts import services as account_services
    from subscriptions import changes, refunds

    done: dict[str, int] = {"errors": 0}
    trialing = Subscription.objects.filter(status=SubscriptionStatus.TRIALING)
    active = Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
    reminder_not_sent = Q(renewal_reminder_sent_for__isnull=True) | ~Q(
        renewal_reminder_sent_for=F("next_billing_at")
    )
    steps: list[tuple[str, Any, Any]] = [
        (
            "trial_warnings",
            trialing.filter(
                next_billing_at__lte=now + timedelta(days=TRIAL_WARNING_DAYS),
                trial_warning_sent_at__isnull=True,
            ),
            lambda sub: trial_warn(subscription=sub, now=now),
        ),
        (
            "trials_ended",
            trialing.filter(next_billing_at__lte=now),
            lambda sub: _trial_end(subscription=sub, now=now),
        ),
        (
            "renewed",
            active.filter(next_billing_at__lte=now),
            lambda sub: subscription_renew(subscription=sub, now=now) is not None,
        ),
        (
            "retried",
            Invoice.objects.filter(status=InvoiceStatus.OPEN, next_retry_at__lte=now).exclude(
                kind=InvoiceKind.PRORATION
            ),
            lambda invoice: invoice_charge(invoice=invoice, trigger="retry", now=now),
        ),
        # A change's payment is never sent again: whether Stripe took it is looked up.
        (
            "changes_settled",
            Invoice.objects.filter(
                status__in=(InvoiceStatus.OPEN, InvoiceStatus.PAID),
                kind=InvoiceKind.PRORATION,
                next_retry_at__lte=now,
            ),
            lambda invoice: changes.change_payment_settle(invoice=invoice, now=now),
        ),
        # 002/004: reminders 7 days before a yearly renewal, 3 before a monthly one.
        *[
            (
                "reminders",
                active.filter(
                    price__interval=interval,
                    next_billing_at__gt=now,
                    next_billing_at__lte=now + timedelta(days=days),
                ).filter(reminder_not_sent),
                lambda sub: renewal_remind(subscription=sub, now=now),
            )
            for interval, days in (("year", 7), ("month", 3))
        ],
        (
            "ended",
            Subscription.objects.filter(status__in=LIVE_STATUSES, cancel_at__lte=now),
            lambda sub: changes.subscription_end_due(subscription=sub, now=now),
        ),
        (
            "purged",
            Subscription.objects.filter(status=SubscriptionStatus.EXPIRED, purge_at__lte=now),
            lambda sub: account_services.expired_trial_purge(subscription=sub, now=now),
        ),
    ]
    for name, queryset, step in steps:
        done.setdefault(name, 0)
        for item in _due(queryset):
            try:
                done[name] += bool(step(item))
            except Exception:
                logger.exception(
                    "billing run: %s failed for %s %s", name, type(item).__name__, item.pk
                )
                done["errors"] += 1
    done["refunds_retried"] = refunds.refunds_retry(now=now)
    return done


def _trial_end(*, subscription: Subscription, now: datetime) -> bool:
    """001: with a plan and a card the first invoice is charged; without, the trial expires."""
    account = BillingAccount.objects.filter(user_id=subscription.user_id).first()
    cancelled = subscription.cancel_at is not None  # 003: a cancelled trial is never billed
    if subscription.price_id and account is not None and account.has_card and not cancelled:
        _trial_convert(subscription=subscription, now=now)
        return True
    return trial_expire(subscription=subscription, now=now)


def _due(queryset: Any) -> list[Any]:
    return list(queryset.order_by("pk")[:BATCH_SIZE])


# --- account closure (the privacy app's deletion calls these) -----------------------------------


def account_closure_preview(*, user: User, now: datetime) -> list[Any]:
    """One item per subscription that closing the account now would refund."""
    from subscriptions import refunds

    return list(refunds.account_closure_preview(user=user, now=now))


def account_closure(*, user: User, now: datetime, actor: User | None = None) -> None:
    """End every subscription now, with the refunds the rules give (002, 004)."""
    from subscriptions import refunds

    refunds.account_closure(user=user, now=now, actor=actor)


# --- switching offer (003) ---------------------------------------------------------------------

SWITCHING_OFFER_MAX_MONTHS = 3  # 003: "trois mois gratuits"


def switching_offer_grant(
    *, subscription: Subscription, months: int, actor: User, now: datetime
) -> Subscription:
    """003: staff grant up to 3 free months to a customer held by a previous provider's notice
    period; they are taken off the next invoices."""
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=subscription.pk)
        )
        granted = sum(
            int(e.data.get("months", 0))
            for e in AuditEvent.objects.filter(subscription=sub, kind="switching_offer_granted")
        )
        if months < 1 or granted + months > SWITCHING_OFFER_MAX_MONTHS:
            raise SubscriptionError(
                _("The switching offer is at most %(max)s free months in all (%(granted)s given).")
                % {"max": SWITCHING_OFFER_MAX_MONTHS, "granted": granted}
            )
        if sub.status not in LIVE_STATUSES:
            raise SubscriptionError(_("This subscription has ended."))
        sub.free_months += months
        sub.save(update_fields=["free_months"])
        audit(
            user=sub.user,
            actor=actor,
            kind="switching_offer_granted",
            subscription=sub,
            months=months,
        )
    return sub
