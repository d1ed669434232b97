"""The Factur-X (EN 16931) CII XML of an invoice or credit note, built with drafthorse's typed
model and embedded into the PDF/A-3 by the factur-x library, which checks it against the
official XSD. Its figures are the database's, the same the PDF prints."""

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import facturx
from django.conf import settings
from drafthorse.models.accounting import (
    ApplicableTradeTax,
    CategoryTradeTax,
    TradeAllowanceCharge,
)
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem

from subscriptions import money
from subscriptions.models import CreditNote, Invoice, InvoiceStatus, TaxRegime

FLAVOR = "factur-x"
LEVEL = "en16931"
GUIDELINE = "urn:cen.eu:en16931:2017"
INVOICE_TYPE = "380"  # UNTDID 1001: commercial invoice
CREDIT_NOTE_TYPE = "381"  # credit note
CARD_PAYMENT = "48"  # UNTDID 4461: bank card
ONE_UNIT = "C62"  # UN/ECE rec 20: one

# A regime's VAT category (UNTDID 5305) and its exemption reason code (VATEX).
VAT_CATEGORY = {
    TaxRegime.FRENCH_VAT: ("S", ""),
    TaxRegime.REVERSE_CHARGE: ("AE", "VATEX-EU-AE"),
    TaxRegime.OUTSIDE_SCOPE: ("O", "VATEX-EU-O"),
}

Document_ = Invoice | CreditNote


def local_date(moment: datetime) -> date:
    """A document's dates are the seller's calendar dates (Paris), on the PDF as in the XML."""
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def cii_xml(
    document: Document_,
    *,
    lines: Sequence[tuple[str, int]],
    notes: Sequence[tuple[str, str]],
    exemption_reason: str,
) -> bytes:
    """The CII XML, XSD-checked by drafthorse (EN 16931 profile). `lines` are the printed
    lines (text, amount before tax); `notes` the legal mentions (UNTDID 4451 subject, text)."""
    currency = document.currency
    category, exemption_code = VAT_CATEGORY[TaxRegime(document.tax_regime)]
    seller, buyer = document.seller, document.buyer

    def amount(minor: int) -> Decimal:
        return money.to_major_units(minor, currency).quantize(Decimal("0.01"))

    doc = Document()
    doc.context.guideline_parameter.id = GUIDELINE
    doc.header.id = document.number
    doc.header.type_code = CREDIT_NOTE_TYPE if document.is_credit_note else INVOICE_TYPE
    doc.header.issue_date_time = local_date(document.issued_at)
    for subject, text in notes:
        note = IncludedNote()
        note.content = text
        note.subject_code = subject
        doc.header.notes.add(note)

    party = doc.trade.agreement.seller
    party.name = seller.get("name", "")
    if seller.get("siren"):
        party.legal_organization.id = ("0002", seller["siren"])  # ICD 0002: SIREN
        party.legal_organization.trade_name = seller.get("name", "")
    party.address.line_one = seller.get("street", "")
    party.address.postcode = seller.get("postal_code", "")
    party.address.city_name = seller.get("city", "")
    party.address.country_id = seller.get("country") or "FR"
    if seller.get("email"):
        party.electronic_address.uri_ID = ("EM", seller["email"])
    if category != "O" and seller.get("vat_number"):
        party.tax_registrations.add(TaxRegistration(id=("VA", seller["vat_number"])))

    party = doc.trade.agreement.buyer
    party.name = buyer.get("company") or buyer.get("name") or "-"
    party.address.line_one = buyer.get("address_line1", "")
    party.address.line_two = buyer.get("address_line2", "")
    party.address.postcode = buyer.get("postal_code", "")
    party.address.city_name = buyer.get("city", "")
    party.address.country_id = buyer.get("country") or seller.get("country") or "FR"
    if buyer.get("email"):
        party.electronic_address.uri_ID = ("EM", buyer["email"])
    if category != "O" and buyer.get("is_business") and buyer.get("vat_number"):
        party.tax_registrations.add(TaxRegistration(id=("VA", buyer["vat_number"])))

    settlement = doc.trade.settlement
    settlement.currency_code = currency
    means = PaymentMeans()
    means.type_code = CARD_PAYMENT
    settlement.payment_means.add(means)
    settlement.period.start = local_date(document.period_start)
    settlement.period.end = local_date(document.period_end)
    if document.is_credit_note:
        assert isinstance(document, CreditNote)  # noqa: S101 - narrows the type
        settlement.invoice_referenced_document.issuer_assigned_id = document.invoice.number
        settlement.invoice_referenced_document.issue_date_time = local_date(
            document.invoice.issued_at
        )
    settled = _settled(document)
    terms = PaymentTerms()
    terms.description = next((text for subject, text in notes if subject == "PMT"), "")
    if not settled:
        terms.due = local_date(document.issued_at)
    settlement.terms.add(terms)

    rate = Decimal(document.tax_rate_bps) / 100 if category == "S" else Decimal("0")
    tax = ApplicableTradeTax()
    tax.calculated_amount = amount(document.tax)
    tax.basis_amount = amount(document.subtotal)
    tax.type_code = "VAT"
    tax.category_code = category
    if exemption_code:
        tax.exemption_reason_code = exemption_code
        tax.exemption_reason = exemption_reason
    if category != "O":
        tax.rate_applicable_percent = rate.quantize(Decimal("0.01"))
    settlement.trade_tax.add(tax)

    line_total = allowances = 0
    for number, (text, net) in enumerate(lines, start=1):
        if net < 0:  # a free month taken off: a document-level allowance
            allowances -= net
            allowance = TradeAllowanceCharge()
            allowance.indicator = False
            allowance.actual_amount = amount(-net)
            allowance.reason = text
            allowance_tax = CategoryTradeTax()
            allowance_tax.type_code = "VAT"
            allowance_tax.category_code = category
            if category != "O":
                allowance_tax.rate_applicable_percent = rate.quantize(Decimal("0.01"))
            allowance.trade_tax.add(allowance_tax)
            settlement.allowance_charge.add(allowance)
            continue
        line_total += net
        item = LineItem()
        item.document.line_id = str(number)
        item.product.name = text
        item.agreement.net.amount = amount(net)
        item.delivery.billed_quantity = (Decimal("1"), ONE_UNIT)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = category
        if category != "O":
            item.settlement.trade_tax.rate_applicable_percent = rate.quantize(Decimal("0.01"))
        item.settlement.monetary_summation.total_amount = amount(net)
        doc.trade.items.add(item)

    summary = settlement.monetary_summation
    summary.line_total = amount(line_total)
    summary.charge_total = amount(0)
    summary.allowance_total = amount(allowances)
    summary.tax_basis_total = amount(document.subtotal)
    summary.tax_total = (amount(document.tax), currency)
    if document.tax_eur is not None:
        # BT-6 and BT-111: French VAT invoiced in another currency, also in euros (CGI art.
        # 242 nonies A), at the rate the document kept.
        settlement.tax_currency_code = "EUR"
        summary.tax_total_other_currency.add(
            (money.to_major_units(document.tax_eur, "EUR").quantize(Decimal("0.01")), "EUR")
        )
    summary.grand_total = amount(document.total)
    # The account's credit (an earlier credit note) is a prepayment, not an allowance: the
    # invoice keeps its full base and VAT.
    prepaid = document.credit_applied if isinstance(document, Invoice) else 0
    summary.prepaid_total = amount(document.total if settled else prepaid)
    summary.due_amount = amount(0 if settled else document.total - prepaid)
    return bytes(doc.serialize(schema="FACTUR-X_EN16931"))


def _settled(document: Document_) -> bool:
    """Paid by card (an invoice) or refunded to it (a credit note): nothing left due."""
    if isinstance(document, CreditNote):
        return document.refunded_at is not None
    return document.status == InvoiceStatus.PAID


def embed(pdf: bytes, xml: bytes, *, lang: str, title: str) -> bytes:
    """The PDF/A-3 with its XML attached as factur-x.xml, checked against the XSD."""
    metadata = {
        "author": settings.VENDOR_NAME,
        "keywords": "Factur-X",
        "title": title,
        "subject": title,
    }
    return bytes(
        facturx.generate_from_binary(
            pdf,
            xml,
            flavor=FLAVOR,
            level=LEVEL,
            check_xsd=True,
            pdf_metadata=metadata,
            lang=lang,
        )
    )
