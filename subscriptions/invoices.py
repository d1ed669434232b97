"""Invoices as the customer reads them: the selectors behind the pages, and the document
(HTML page and PDF) rendered in the language of the request."""

from decimal import Decimal
from typing import Any

from babel import Locale
from babel.numbers import format_percent
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import User
from subscriptions import money
from subscriptions.models import Invoice, InvoiceKind, InvoiceStatus

DOCUMENT_TEMPLATE = "subscriptions/invoice_document.html"


def invoice_list_for_user(*, user: User) -> QuerySet[Invoice]:
    """The customer's invoices, newest first: one query, whatever their number."""
    return Invoice.objects.filter(user=user).order_by("-issued_at", "-pk")


def invoice_detail_queryset(*, user: User) -> QuerySet[Invoice]:
    """Where a customer's single invoice is looked up (by number): their own, lines included."""
    return Invoice.objects.filter(user=user).prefetch_related("lines")


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    """What the invoice templates show, with the values that depend on the active language."""
    locale = money.babel_locale(translation.get_language() or "fr")
    rate = Decimal(invoice.tax_rate_bps) / 10000
    country = str(invoice.buyer.get("country") or "").upper()
    return {
        "invoice": invoice,
        # Payable from its page; a change's invoice is paid only by the change itself.
        "is_open": invoice.status == InvoiceStatus.OPEN and invoice.kind != InvoiceKind.PRORATION,
        # "20 %" in French, "20%" in English; 550 bps -> "5,5 %".
        "tax_rate": format_percent(rate, locale=locale, decimal_quantization=False),
        # The ISO code kept on the invoice, named in the reader's language.
        "buyer_country": Locale.parse(locale).territories.get(country, country),
    }


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"invoice-{invoice.number}.pdf"


def invoice_pdf(invoice: Invoice, *, request: HttpRequest) -> bytes:
    """The printable document as a PDF, in the request's language and time zone."""
    # WeasyPrint takes half a second to import: only the PDF download pays for it.
    import weasyprint

    html = render_to_string(DOCUMENT_TEMPLATE, invoice_context(invoice), request=request)
    # Self-contained (inline CSS, no images): a customer-supplied name or company must
    # never make the server fetch a URL, so only data: URLs may be loaded.
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"})
    pdf = weasyprint.HTML(
        string=html, base_url=request.build_absolute_uri("/"), url_fetcher=fetcher
    ).write_pdf()
    return bytes(pdf)
