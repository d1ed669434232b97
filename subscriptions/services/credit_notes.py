"""Credit notes (factures d'avoir): every refund made and every credit granted corrects its
invoice through one, in its own gap-free yearly sequence (AV-2026-000001). An issued invoice
is never edited (CGI art. 242 nonies A, L441-9)."""

from datetime import datetime

from django.db.models import Case, Sum, Value, When

from subscriptions.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteReason,
    CreditNoteSequence,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    RefundRequest,
)
from subscriptions.services.auditing import audit
from subscriptions.services.invoices import eur_vat, sequence_next, split_tax

CREDIT_NOTE_PREFIX = "AV"

REFUND_LINE = "Refund of invoice {number} / Remboursement de la facture {number}"
CREDIT_LINE = "Credit on invoice {number} / Avoir sur la facture {number}"
# The invoices that pay a whole period; the others (changes, charges back) pay part of one.
PERIOD_KINDS = (InvoiceKind.FIRST, InvoiceKind.RENEWAL)


def credit_note_issue(
    *,
    invoice: Invoice,
    amount: int,
    now: datetime,
    refund: RefundRequest | None = None,
    refunded_at: datetime | None = None,
) -> CreditNote | None:
    """Issue the credit note for `amount` (what goes back to the customer, tax included)
    against `invoice`, inside the caller's transaction: a refund (`refund`, or
    `refunded_at` for one made outside the portal) or else a credit kept on the account.
    A refund gets one credit note, ever: asked again, the existing one is returned. Nothing
    is issued for a zero amount."""
    if amount <= 0:
        return None
    if refund is not None:
        existing = CreditNote.objects.filter(refund=refund).first()
        if existing is not None:
            return existing
    subtotal, tax = credit_amounts(invoice, amount)
    refunded = refund is not None or refunded_at is not None
    reason = CreditNoteReason.REFUND if refunded else CreditNoteReason.CREDIT
    template = REFUND_LINE if refunded else CREDIT_LINE
    note = CreditNote.objects.create(
        number=_next_credit_note_number(now),
        invoice=invoice,
        user=invoice.user,
        refund=refund,
        reason=reason,
        currency=invoice.currency,
        subtotal=subtotal,
        tax=tax,
        total=amount,
        tax_rate_bps=invoice.tax_rate_bps,
        tax_regime=invoice.tax_regime,
        # The VAT it gives back in euros at the rate of the invoice (as declared then).
        **eur_vat(invoice.currency, tax, invoice.tax_regime, now, rate=invoice.eur_rate),
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issued_at=now,
        refunded_at=(refunded_at or now) if refunded else None,
        # The parties of the invoice it corrects, as they were on it.
        seller=invoice.seller,
        buyer=invoice.buyer,
        language=invoice.language,
    )
    CreditNoteLine.objects.create(
        credit_note=note,
        description=template.format(number=invoice.number),
        amount=subtotal,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
    )
    audit(
        user=invoice.user,
        kind="credit_note_issued",
        subscription=invoice.subscription,
        credit_note=note.number,
        invoice=invoice.number,
        total=amount,
        currency=invoice.currency,
    )
    return note


def credit_amounts(invoice: Invoice, amount: int) -> tuple[int, int]:
    """(before tax, VAT) of `amount` at the invoice's rate; the whole invoice back is exactly
    the invoice's own figures."""
    if amount == invoice.total:
        return invoice.subtotal, invoice.tax
    return split_tax(amount, invoice.tax_rate_bps)


def credit_for_subscription(
    *, subscription_id: int, amount: int, now: datetime
) -> list[CreditNote]:
    """A credit granted on the account (the unused part of the current period kept for the
    next invoices): credited against the paid invoices of the period it comes from, the one
    `now` falls in. The period's own invoice first (its first payment or renewal), then the
    changes paid within it; each credit note takes at most what its invoice has left after
    earlier credit notes, so together they credit exactly `amount`. The latest paid invoice
    is no rule: a plan change or a "keep my subscription" charge paid since is only part of
    the period, and crediting it alone would cut the credit to its total."""
    paid = Invoice.objects.filter(subscription_id=subscription_id, status=InvoiceStatus.PAID)
    period = paid.filter(period_start__lte=now, period_end__gt=now).annotate(
        own=Case(When(kind__in=PERIOD_KINDS, then=Value(0)), default=Value(1))
    )
    invoices = list(period.order_by("own", "issued_at", "pk")) or list(
        paid.order_by("-issued_at", "-pk")[:1]
    )
    notes = []
    for invoice in invoices:
        credited = invoice.credit_notes.aggregate(total=Sum("total"))["total"] or 0
        share = min(amount, max(invoice.total - credited, 0))
        note = credit_note_issue(invoice=invoice, amount=share, now=now)
        if note is not None:
            notes.append(note)
            amount -= share
        if amount <= 0:
            break
    return notes


def _next_credit_note_number(now: datetime) -> str:
    """Gapless per year, like the invoices, on a counter of their own."""
    return f"{CREDIT_NOTE_PREFIX}-{now.year}-{sequence_next(CreditNoteSequence, now.year):06d}"
