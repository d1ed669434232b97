"""Invoices: amounts, lines, tax, gap-free numbers, issuing and voiding (French law)."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import User
from subscriptions import money, policy
from subscriptions.models import (
    AuditEvent,
    Currency,
    ExchangeRate,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    Price,
    Subscription,
    TaxRegime,
)
from subscriptions.services.auditing import audit_event, audit_write
from subscriptions.services.errors import SubscriptionError
from subscriptions.taxes import TaxProfile, customer_tax


def invoice_amounts(price: Price, customer: TaxProfile) -> tuple[int, int, int]:
    """(subtotal, tax, total) in minor units for one period of a price, taxed as this
    customer is (the rate follows the customer, not the price)."""
    amounts = price.amounts_for(customer_tax(customer))
    return amounts.subtotal, amounts.tax, amounts.total


def void_open_invoices(subscription: Subscription) -> None:
    """Nothing more is owed on this subscription. A change's invoice still open is not
    touched: whether Stripe took its payment is settled by the billing run."""
    for invoice in Invoice.objects.filter(
        subscription=subscription, status=InvoiceStatus.OPEN
    ).exclude(kind=InvoiceKind.PRORATION):
        invoice_void(invoice)


def invoice_void(invoice: Invoice, **also: Any) -> bool:
    """Void an open invoice (nothing will be charged on it): the credit it had used goes back
    to the account's balance. `also`: more fields reset with it. False if it was not open."""
    voided = Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.OPEN).update(
        status=InvoiceStatus.VOID, next_retry_at=None, **also
    )
    if voided:
        credit_give_back(invoice)
    return bool(voided)


def credit_give_back(invoice: Invoice) -> None:
    """The credit an invoice used goes back to the account's balance: nothing was taken on
    it after all (voided, or the change it paid for was not made)."""
    if invoice.credit_applied and invoice.subscription_id is not None:
        Subscription.objects.filter(pk=invoice.subscription_id).update(
            credit=F("credit") + invoice.credit_applied
        )


def invoice_issue(
    *,
    subscription: Subscription,
    kind: str,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    price: Price | None = None,
    lines: list[tuple[str, int]] | None = None,
    reverses: Invoice | None = None,
    use_credit: bool | None = None,
    next_retry_at: datetime | None = None,
    save_subscription: bool = True,
    events: tuple[AuditEvent, ...] = (),
) -> Invoice:
    """Issue a numbered invoice (inside the caller's transaction).

    `lines` are (description, amount tax included); without them the invoice bills one
    period of the price, less a free month (003), and the account's credit settles what it
    can of it as a prepayment (`credit_applied`): the credit note that made the credit
    already gave its VAT back, so the invoice keeps its full base and VAT. The VAT rule and
    rate are the customer's at the moment of issue (country, business, VAT number), or those
    of `reverses` for refunds charged again (months refunded on cancelling, billed again when
    the cancellation is undone): their credit notes gave the VAT back at that invoice's rate,
    so the charge collects it again at the same rate. `use_credit`: whether the account's
    credit settles it first (by default a period's invoice; an upgrade asks for it too).
    `next_retry_at`: when the billing run sends it again should no answer come. With
    `save_subscription=False` the caller saves the subscription's free months and credit with
    its own changes; `events`: the caller's audit events, written with the invoice's."""
    price = price or subscription.price
    if price is None:
        raise SubscriptionError(_("Please choose a plan first."))
    user = subscription.user
    treatment = customer_tax(user)
    amounts = price.amounts_for(treatment)
    plan_line = plan_line_for(price)
    credit_applied = 0
    if lines is None:
        lines = [(plan_line, amounts.total)]
        if kind in (InvoiceKind.FIRST, InvoiceKind.RENEWAL):
            lines += _free_months(subscription, price, amounts.total, save=save_subscription)
    total = max(0, sum(amount for _label, amount in lines))
    if use_credit is None:
        use_credit = kind in (InvoiceKind.FIRST, InvoiceKind.RENEWAL)
    if use_credit:
        credit_applied = _use_credit(subscription, total, save=save_subscription)
    rate_bps = treatment.rate_bps if reverses is None else reverses.tax_rate_bps
    regime = treatment.regime if reverses is None else reverses.tax_regime
    if lines == [(plan_line, amounts.total)] and reverses is None:
        subtotal, tax, total = amounts.subtotal, amounts.tax, amounts.total
    else:
        subtotal, tax = split_tax(total, rate_bps)
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
        credit_applied=credit_applied,
        tax_rate_bps=rate_bps,
        tax_regime=regime,
        reverses_refunds=reverses is not None,
        **eur_vat(price.currency, tax, regime, now),
        period_start=period_start,
        period_end=period_end,
        issued_at=now,
        next_retry_at=next_retry_at,
        seller=seller_snapshot(),
        buyer=buyer_snapshot(user),
        language=user.language,
    )
    nets = [split_tax(amount, rate_bps)[0] for _label, amount in lines]
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
    audit_write(
        *events,
        audit_event(
            user=user,
            kind="invoice_issued",
            subscription=subscription,
            invoice=invoice.number,
            total=total,
            credit_applied=credit_applied,
            currency=price.currency,
        ),
    )
    return invoice


RATE_PLACES = Decimal("0.000001")  # as ExchangeRate and the documents keep it


def eur_rate_on(currency: str, moment: datetime) -> Decimal:
    """Euros for one unit of `currency` on the seller's calendar day of `moment`: the latest
    rate staff entered on or before it, else the EUR_EXCHANGE_RATES setting's."""
    if currency == Currency.EUR:
        return Decimal(1)
    day = moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    entered = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("eur_per_unit", flat=True)
        .first()
    )
    if entered is not None:
        return entered
    try:
        return Decimal(settings.EUR_EXCHANGE_RATES[currency])
    except KeyError:
        raise SubscriptionError(
            _("No exchange rate to euros is set for %(currency)s.") % {"currency": currency}
        ) from None


def eur_vat(
    currency: str, tax: int, regime: str, moment: datetime, *, rate: Decimal | None = None
) -> dict[str, Any]:
    """The euro fields a document keeps (CGI art. 242 nonies A: French VAT invoiced in
    another currency is stated in euros too): the rate (`rate`, else the one of `moment`)
    and the VAT in euro cents, rounded half up. Nothing in euros or without French VAT."""
    if currency == Currency.EUR or regime != TaxRegime.FRENCH_VAT:
        return {"eur_rate": None, "tax_eur": None}
    rate = (rate if rate is not None else eur_rate_on(currency, moment)).quantize(RATE_PLACES)
    euros = money.to_major_units(tax, currency) * rate
    cents = (euros * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return {"eur_rate": rate, "tax_eur": int(cents)}


def seller_snapshot() -> dict[str, str]:
    """The seller's legal mentions as they stand when a document is issued (L441-9)."""
    return {
        "name": settings.VENDOR_NAME,
        "legal_form": settings.VENDOR_LEGAL_FORM,
        "share_capital": settings.VENDOR_SHARE_CAPITAL,
        "siren": settings.VENDOR_SIREN,
        "siret": settings.VENDOR_SIRET,
        "rcs_city": settings.VENDOR_RCS_CITY,
        "vat_number": settings.VENDOR_VAT_NUMBER,
        "address": settings.VENDOR_ADDRESS,
        "street": settings.VENDOR_STREET,
        "postal_code": settings.VENDOR_POSTAL_CODE,
        "city": settings.VENDOR_CITY,
        "country": settings.VENDOR_COUNTRY,
        "email": settings.VENDOR_EMAIL,
    }


def buyer_snapshot(user: User) -> dict[str, str | bool]:
    """The buyer as billed: name, billing address and, for a business, its VAT number."""
    return {
        "name": user.name,
        "company": user.company,
        "email": user.email,
        "address_line1": user.address_line1,
        "address_line2": user.address_line2,
        "postal_code": user.postal_code,
        "city": user.city,
        "country": user.country,
        "is_business": user.is_business,
        "vat_number": user.vat_number if user.is_business else "",
    }


INTERVAL_WORDS = {"month": ("monthly", "mensuel"), "year": ("yearly", "annuel")}


def plan_line_for(price: Price) -> str:
    """An invoice line in both languages, e.g. "Pro, monthly / Pro, mensuel"."""
    en, fr = INTERVAL_WORDS[price.interval]
    return f"{price.plan.name_en}, {en} / {price.plan.name_fr}, {fr}"


def split_tax(total: int, tax_rate_bps: int) -> tuple[int, int]:
    """(net, tax) of an amount that includes tax, to the nearest minor unit."""
    net = (total * 10000 * 2 + (10000 + tax_rate_bps)) // (2 * (10000 + tax_rate_bps))
    return net, total - net


def credit_split(subscription: Subscription, amount: int) -> tuple[int, int]:
    """(from the account's credit, by card) of a charge of `amount`: the credit first."""
    from_credit = min(max(subscription.credit, 0), max(amount, 0))
    return from_credit, amount - from_credit


def period_amounts(
    subscription: Subscription | None, price: Price, customer: TaxProfile
) -> tuple[int, int, int]:
    """(invoice total, from the account's credit, by card) of one period's invoice of
    `price` for this subscription, taxed as the customer is, free months taken off and the
    credit used first: what the first invoice or a renewal will be (invoice_issue bills
    the same lines and credit_split)."""
    full = invoice_amounts(price, customer)[2]
    if subscription is None:
        return full, 0, full
    lines, _free = _free_month_lines(subscription.free_months, price, full)
    total = max(0, full + sum(amount for _label, amount in lines))
    from_credit, by_card = credit_split(subscription, total)
    return total, from_credit, by_card


def period_total(subscription: Subscription | None, price: Price, customer: TaxProfile) -> int:
    """What one period's invoice of `price` takes from the card for this subscription: the
    amount a quote shows for the first invoice or a renewal."""
    return period_amounts(subscription, price, customer)[2]


def _free_month_lines(
    free_months: int, price: Price, amount: int
) -> tuple[list[tuple[str, int]], int]:
    """(lines, free months used) taken off one period's invoice: a discount (003), so the
    base and VAT go down with it."""
    if free_months <= 0:
        return [], 0
    months = policy.MONTHS_PER_INTERVAL[price.interval]
    free_used = min(free_months, months)
    line = (
        f"Free months (switching offer): {free_used} / "
        f"Mois offerts (changement de fournisseur) : {free_used}",
        -(amount * free_used // months),
    )
    return [line], free_used


def _free_months(
    subscription: Subscription, price: Price, amount: int, *, save: bool
) -> list[tuple[str, int]]:
    """The free months taken off a period's invoice (003). The subscription row is locked by
    the caller; the counter goes down here (saved here unless the caller saves it)."""
    lines, free_used = _free_month_lines(subscription.free_months, price, amount)
    if free_used:
        subscription.free_months -= free_used
        if save:
            subscription.save(update_fields=["free_months"])
    return lines


def _use_credit(subscription: Subscription, total: int, *, save: bool) -> int:
    """The account's credit settles what it can of an invoice of `total`; the balance goes
    down here (the subscription row is locked by the caller; saved here unless it saves it)."""
    used, _by_card = credit_split(subscription, total)
    if used:
        subscription.credit -= used
        if save:
            subscription.save(update_fields=["credit"])
    return used


def _next_invoice_number(now: datetime) -> str:
    return f"{now.year}-{sequence_next(InvoiceSequence, now.year):06d}"


def sequence_next(model: type[models.Model], year: int) -> int:
    """The next number of a gapless yearly counter (invoices, credit notes): one statement
    that makes the year's row or adds one to it, and keeps it locked until the caller's
    transaction ends, so concurrent documents queue on it and a rolled-back one gives its
    number back. Raw SQL because the ORM's upsert cannot add to the stored value; PostgreSQL
    and SQLite (3.35+) both read it."""
    table = connection.ops.quote_name(model._meta.db_table)
    year_column, last = (connection.ops.quote_name(name) for name in ("year", "last_number"))
    # Only quoted names from the model are put in the text; the year is a parameter.
    sql = (
        f"INSERT INTO {table} ({year_column}, {last}) VALUES (%s, 1) "  # noqa: S608
        f"ON CONFLICT ({year_column}) DO UPDATE SET {last} = {table}.{last} + 1 "
        f"RETURNING {last}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [year])
        (number,) = cursor.fetchone()
    return int(number)
