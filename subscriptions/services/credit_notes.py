"""Credit notes (factures d'avoir): every refund made and every credit granted corrects its
invoice through one, in its own gap-free yearly sequence (AV-2026-000001). An issued invoice
is never edited (CGI art. 242 nonies A, L441-9)."""

from datetime import datetime

from subscriptions.models import (
    CreditNote,
    CreditNoteLine,
    CreditNoteReason,
    CreditNoteSequence,
    Invoice,
    InvoiceStatus,
    RefundRequest,
)
from subscriptions.services.auditing import audit
from subscriptions.services.invoices import sequence_next, split_tax

CREDIT_NOTE_PREFIX = "AV"

REFUND_LINE = "Refund of invoice {number} / Remboursement de la facture {number}"
CREDIT_LINE = "Credit on invoice {number} / Avoir sur la facture {number}"


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
) -> CreditNote | None:
    """A credit granted on the account (an unused part of a payment kept for the next
    invoices): credited against the latest paid invoice of the subscription."""
    invoice = (
        Invoice.objects.filter(subscription_id=subscription_id, status=InvoiceStatus.PAID)
        .order_by("-issued_at", "-pk")
        .first()
    )
    if invoice is None:
        return None
    return credit_note_issue(invoice=invoice, amount=min(amount, invoice.total), now=now)


def _next_credit_note_number(now: datetime) -> str:
    """Gapless per year, like the invoices, on a counter of their own."""
    return f"{CREDIT_NOTE_PREFIX}-{now.year}-{sequence_next(CreditNoteSequence, now.year):06d}"
