"""Invoices: amounts, lines, tax, gap-free numbers, issuing and voiding (French law)."""

from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _

from subscriptions import policy
from subscriptions.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    Price,
    Subscription,
    TaxBehavior,
)
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionError


def invoice_amounts(price: Price) -> tuple[int, int, int]:
    """(subtotal, tax, total) in minor units for one period of a price."""
    tax = price.tax_amount
    if price.tax_behavior == TaxBehavior.EXCLUSIVE:
        return price.amount, tax, price.amount + tax
    return price.amount - tax, tax, price.amount


def void_open_invoices(subscription: Subscription) -> None:
    """Nothing more is owed on this subscription. A change's invoice still open is not
    touched: whether Stripe took its payment is settled by the billing run."""
    Invoice.objects.filter(subscription=subscription, status=InvoiceStatus.OPEN).exclude(
        kind=InvoiceKind.PRORATION
    ).update(status=InvoiceStatus.VOID, next_retry_at=None)


def invoice_issue(
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
    sequence = InvoiceSequence.objects.select_for_update(of=("self",)).filter(year=year).first()
    if sequence is None:  # the year's first invoice: the counter row is made, then locked
        InvoiceSequence.objects.get_or_create(year=year)
        sequence = InvoiceSequence.objects.select_for_update(of=("self",)).get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{year}-{sequence.last_number:06d}"
