"""Invoices and credit notes as the customer reads them: the selectors behind the pages, and
the document (HTML page and Factur-X PDF) with the legal mentions of L441-9 and CGI art. 242
nonies A, in the language asked for."""

import base64
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from itertools import chain
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_percent
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from subscriptions import facturx, money
from subscriptions.models import (
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    TaxRegime,
)
from subscriptions.templatetags.portal import day, line_text

DOCUMENT_TEMPLATE = "subscriptions/invoice_document.html"
# D441-5: the fixed indemnity for recovery costs a business buyer owes when paying late.
RECOVERY_INDEMNITY = (4000, "EUR")

Document = Invoice | CreditNote


def invoice_list_for_user(*, user: User) -> QuerySet[Invoice]:
    """The customer's invoices, newest first: one query, whatever their number."""
    return Invoice.objects.filter(user=user).order_by("-issued_at", "-pk")


def credit_note_list_for_user(*, user: User) -> QuerySet[CreditNote]:
    """The customer's credit notes with the number of the invoice each corrects: one query."""
    return credit_note_list_for_user_base().filter(user=user)


def credit_note_list_for_user_base() -> QuerySet[CreditNote]:
    return (
        CreditNote.objects.select_related("invoice")
        .only(
            "number",
            "issued_at",
            "total",
            "currency",
            "reason",
            "refunded_at",
            "invoice",
            "invoice__number",
        )
        .order_by("-issued_at", "-pk")
    )


def documents_for_user(*, user: User) -> list[Document]:
    """Invoices and credit notes side by side, newest first (two queries)."""
    documents: list[Document] = list(
        chain(invoice_list_for_user(user=user), credit_note_list_for_user(user=user))
    )
    documents.sort(key=lambda doc: (doc.issued_at, doc.is_credit_note, doc.pk), reverse=True)
    return documents


def documents_of_page(invoices: Iterable[Invoice]) -> list[Document]:
    """One page of invoices, each followed by the credit notes that correct it, newest first
    (one query more, whatever the history: the page is a page of invoices)."""
    page = list(invoices)
    notes: dict[int, list[CreditNote]] = {}
    for note in credit_note_list_for_user_invoices(page):
        notes.setdefault(note.invoice_id, []).append(note)
    documents: list[Document] = []
    for invoice in page:
        documents.append(invoice)
        documents.extend(notes.get(invoice.pk, []))
    return documents


def credit_note_list_for_user_invoices(invoices: list[Invoice]) -> QuerySet[CreditNote]:
    return credit_note_list_for_user_base().filter(invoice__in=[i.pk for i in invoices])


def invoice_detail_queryset(*, user: User) -> QuerySet[Invoice]:
    """Where a customer's single invoice is looked up (by number): their own, lines and
    credit notes included."""
    return Invoice.objects.filter(user=user).prefetch_related("lines", "credit_notes")


def credit_note_detail_queryset(*, user: User) -> QuerySet[CreditNote]:
    return CreditNote.objects.filter(user=user).select_related("invoice").prefetch_related("lines")


@dataclass(frozen=True)
class Mention:
    """A legal mention, with its UNTDID 4451 subject in the Factur-X XML."""

    subject: str
    text: str


def is_business(document: Document) -> bool:
    return bool(document.buyer.get("is_business", True))


def regime_mention(document: Document) -> str:
    """Why no French VAT is charged, as CGI art. 242 nonies A (13°) asks."""
    if document.tax_regime == TaxRegime.REVERSE_CHARGE:
        return _("Reverse charge – Article 196 of Council Directive 2006/112/EC")  # noqa: RUF001
    if document.tax_regime == TaxRegime.OUTSIDE_SCOPE:
        # Place of supply outside France: the buyer's country, for a business (259-1), and
        # for a consumer outside the EU buying an electronically supplied service (259 B).
        if is_business(document):
            return _("VAT not applicable – Article 259-1 of the French tax code (CGI)")  # noqa: RUF001
        return _("VAT not applicable – Article 259 B of the French tax code (CGI)")  # noqa: RUF001
    return ""


def eur_vat_mention(tax_eur: int, eur_rate: Decimal, currency: str, language: str) -> str:
    """CGI art. 242 nonies A: French VAT invoiced in another currency, stated in euros at the
    rate the document kept: "TVA en euros : 8,43 € (taux 1 USD = 0,86 €)"."""
    locale = money.babel_locale(language)
    rate = format_currency(eur_rate.normalize(), "EUR", locale=locale, decimal_quantization=False)
    return _("VAT in euros: %(amount)s (rate 1 %(currency)s = %(rate)s)") % {
        "amount": money.format_money(tax_eur, "EUR", language),
        "currency": currency,
        "rate": rate,
    }


def payment_mention(document: Document) -> str:
    if isinstance(document, CreditNote):
        if document.refunded_at is not None:
            return _("Refunded to the card on %(date)s.") % {"date": day(document.refunded_at)}
        return _("Kept as a credit on the account and deducted from the next invoices.")
    if document.credit_applied:
        return _credit_payment_mention(document)
    if document.status == InvoiceStatus.PAID and document.paid_at is not None:
        return _("Paid by card on %(date)s.") % {"date": day(document.paid_at)}
    return _("Payable by card on receipt, by %(date)s.") % {"date": day(document.issued_at)}


def _credit_payment_mention(invoice: Invoice) -> str:
    """An invoice partly or wholly settled by the account's credit, as a prepayment."""
    language = translation.get_language() or "fr"
    values = {
        "credit": money.format_money(invoice.credit_applied, invoice.currency, language),
        "card": money.format_money(invoice.amount_due, invoice.currency, language),
        "notes": ", ".join(credit_notes_used(invoice)) or "—",
        "date": day(invoice.paid_at or invoice.issued_at),
    }
    if invoice.amount_due == 0:
        return _("Settled in full by the credit of credit note %(notes)s on %(date)s.") % values
    if invoice.status == InvoiceStatus.PAID:
        return (
            _(
                "%(credit)s settled by the credit of credit note %(notes)s; %(card)s paid by "
                "card on %(date)s."
            )
            % values
        )
    return (
        _(
            "%(credit)s settled by the credit of credit note %(notes)s; %(card)s payable by "
            "card on receipt, by %(date)s."
        )
        % values
    )


def credit_notes_used(invoice: Invoice) -> list[str]:
    """The credit notes whose credit an invoice used: those kept on the subscription's
    account (not refunded) issued before it."""
    if not invoice.credit_applied or invoice.subscription_id is None:
        return []
    return list(
        CreditNote.objects.filter(
            invoice__subscription_id=invoice.subscription_id,
            reason=CreditNoteReason.CREDIT,
            issued_at__lte=invoice.issued_at,
        )
        .order_by("issued_at", "pk")
        .values_list("number", flat=True)
    )


def legal_mentions(document: Document) -> list[Mention]:
    """The mentions under the totals (L441-9: payment date and terms, no discount, late
    penalties and the recovery indemnity for business buyers), in the active language."""
    language = translation.get_language() or "fr"
    mentions = []
    regime = regime_mention(document)
    if regime:
        mentions.append(Mention("TXD", regime))
    if document.tax_eur is not None and document.eur_rate is not None:
        mentions.append(
            Mention(
                "TXD",
                eur_vat_mention(document.tax_eur, document.eur_rate, document.currency, language),
            )
        )
    mentions.append(Mention("PMT", payment_mention(document)))
    mentions.append(Mention("AAB", _("No discount for early payment.")))
    if is_business(document):
        mentions.append(
            Mention(
                "PMD",
                _(
                    "Late payment: penalties at three times the French legal interest rate, "
                    "and a fixed indemnity of %(amount)s for recovery costs (articles L441-10 "
                    "and D441-5 of the Code de commerce)."
                )
                % {"amount": money.format_money(*RECOVERY_INDEMNITY, language)},
            )
        )
    return mentions


def seller_legal_line(seller: dict[str, str]) -> str:
    """ "SAS with a share capital of 10 000 €, SIREN …, RCS Paris …", dash-separated."""
    parts = []
    if seller.get("legal_form"):
        if seller.get("share_capital"):
            parts.append(
                _("%(form)s with a share capital of %(capital)s")
                % {"form": seller["legal_form"], "capital": seller["share_capital"]}
            )
        else:
            parts.append(seller["legal_form"])
    if seller.get("siren"):
        parts.append(_("SIREN %(siren)s") % {"siren": seller["siren"]})
    if seller.get("siret"):
        parts.append(_("SIRET %(siret)s") % {"siret": seller["siret"]})
    if seller.get("rcs_city") and seller.get("siren"):
        parts.append(
            _("RCS %(city)s %(siren)s") % {"city": seller["rcs_city"], "siren": seller["siren"]}
        )
    # Each mention stays on one line when the footer wraps: "RCS Paris 123456782".
    return " – ".join(part.replace(" ", "\xa0") for part in parts)  # noqa: RUF001


def tax_rate_label(document: Document) -> str:
    """ "20 %" in French, "20%" in English; 550 bps -> "5,5 %"; no French VAT: 0."""
    locale = money.babel_locale(translation.get_language() or "fr")
    bps = document.tax_rate_bps if document.tax_regime == TaxRegime.FRENCH_VAT else 0
    return str(format_percent(Decimal(bps) / 10000, locale=locale, decimal_quantization=False))


def document_lines(document: Document) -> list[tuple[str, int]]:
    """(text in the active language, amount before tax) of each line."""
    return [(line_text(line.description), line.amount) for line in document.lines.all()]


def invoice_context(document: Document) -> dict[str, Any]:
    """What the invoice and credit note templates show, in the active language."""
    locale = money.babel_locale(translation.get_language() or "fr")
    country = str(document.buyer.get("country") or "").upper()
    credit = isinstance(document, CreditNote)
    return {
        "invoice": document,
        "is_credit_note": credit,
        # Payable from its page; a change's invoice is paid only by the change itself.
        "is_open": isinstance(document, Invoice)
        and document.status == InvoiceStatus.OPEN
        and document.kind != InvoiceKind.PRORATION,
        "tax_rate": tax_rate_label(document),
        # The ISO code kept on the invoice, named in the reader's language.
        "buyer_country": Locale.parse(locale).territories.get(country, country),
        "buyer_is_business": is_business(document),
        "seller_legal_line": seller_legal_line(document.seller),
        "mentions": legal_mentions(document),
        "lines": document_lines(document),
        # A prepayment by the account's credit: the invoice keeps its total, less is due.
        "credit_applied": document.credit_applied if isinstance(document, Invoice) else 0,
        "credit_notes_used": (credit_notes_used(document) if isinstance(document, Invoice) else []),
    }


def invoice_pdf_filename(document: Document) -> str:
    prefix = "credit-note" if isinstance(document, CreditNote) else "invoice"
    return f"{prefix}-{document.number}.pdf"


def document_title(document: Document) -> str:
    if isinstance(document, CreditNote):
        return _("Credit note %(number)s") % {"number": document.number}
    return _("Invoice %(number)s") % {"number": document.number}


@lru_cache(maxsize=4)
def logo_data_url(path: str) -> str:
    """The vendor's logo (a static file named by a setting) as a data: URL: the PDF loads
    nothing from outside."""
    found = finders.find(path) if path else None
    if not found:
        return ""
    kind = mimetypes.guess_type(str(found))[0] or "application/octet-stream"
    with open(str(found), "rb") as handle:
        return f"data:{kind};base64,{base64.b64encode(handle.read()).decode()}"


def document_pdf(document: Document, *, language: str | None = None) -> bytes:
    """The Factur-X PDF (PDF/A-3b with its EN 16931 XML), in `language` (the document's own
    by default), dates in the seller's time zone."""
    # WeasyPrint takes half a second to import: only the PDF pays for it.
    import weasyprint

    language = language or document.language or "fr"
    with translation.override(language), timezone.override(settings.TIME_ZONE):
        context = invoice_context(document)
        context["logo"] = logo_data_url(settings.VENDOR_LOGO)
        context["document_title"] = title = document_title(document)
        html = render_to_string(DOCUMENT_TEMPLATE, context)
        # Self-contained: a customer-supplied name or company must never make the server
        # fetch a URL, so only data: URLs may be loaded.
        fetcher = weasyprint.URLFetcher(allowed_protocols={"data"})
        pdf = weasyprint.HTML(string=html, base_url="data:,", url_fetcher=fetcher).write_pdf(
            pdf_variant="pdf/a-3b"
        )
        xml = facturx.cii_xml(
            document,
            lines=context["lines"],
            notes=[(mention.subject, mention.text) for mention in context["mentions"]],
            exemption_reason=regime_mention(document),
        )
    return facturx.embed(bytes(pdf), xml, lang=language, title=title)


def invoice_pdf(document: Document, *, request: HttpRequest) -> bytes:
    """The PDF the customer downloads, in the language of the page they asked from."""
    return document_pdf(document, language=translation.get_language() or document.language)


def issued_between(
    start: datetime, end: datetime
) -> tuple[QuerySet[Invoice], QuerySet[CreditNote]]:
    """Every invoice and credit note issued in [start, end), for the accountant's export."""
    invoices = (
        Invoice.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .prefetch_related("lines")
        .order_by("issued_at", "pk")
    )
    notes = (
        CreditNote.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .select_related("invoice")
        .prefetch_related("lines")
        .order_by("issued_at", "pk")
    )
    return invoices, notes
