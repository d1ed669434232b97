"""Invoices and credit notes a French accountant accepts: the legal mentions (L441-9, CGI
art. 242 nonies A), on the PDF as in its Factur-X XML (EN 16931), equal to the database."""

import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import facturx
import pytest
from django.contrib.auth.models import Group
from lxml import etree

from subscriptions.invoices import document_pdf
from subscriptions.models import (
    CreditNote,
    ExchangeRate,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    IssuedDocumentEdited,
    Price,
    Subscription,
    SubscriptionStatus,
    TaxRegime,
)
from subscriptions.services.credit_notes import credit_note_issue
from subscriptions.services.invoices import eur_vat, invoice_issue, seller_snapshot
from tests.factories import UserFactory

ISSUED = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def make_invoice(
    user,
    catalog,
    *,
    number="2026-000042",
    currency="EUR",
    regime=TaxRegime.FRENCH_VAT,
    rate_bps=2000,
    subtotal=4900,
    tax=980,
    language="fr",
    buyer=None,
    lines=None,
):
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency=currency)
    subscription = Subscription.objects.create(
        user=user, plan=price.plan, price=price, status=SubscriptionStatus.ACTIVE, currency=currency
    )
    invoice = Invoice.objects.create(
        number=number,
        user=user,
        subscription=subscription,
        price=price,
        kind=InvoiceKind.RENEWAL,
        status=InvoiceStatus.PAID,
        currency=currency,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        tax_rate_bps=rate_bps,
        tax_regime=regime,
        **eur_vat(currency, tax, regime, ISSUED),
        period_start=ISSUED,
        period_end=ISSUED + timedelta(days=31),
        issued_at=ISSUED,
        paid_at=ISSUED,
        seller=seller_snapshot(),
        buyer=buyer
        or {
            "name": "Camille Martin",
            "company": "Boulangerie Martin",
            "email": user.email,
            "address_line1": "3 place du Marché",
            "postal_code": "69002",
            "city": "Lyon",
            "country": "FR",
            "is_business": True,
            "vat_number": "FR40303265045",
        },
        language=language,
    )
    for text, amount in lines or [("Pro, monthly / Pro, mensuel", subtotal)]:
        InvoiceLine.objects.create(
            invoice=invoice,
            description=text,
            amount=amount,
            period_start=ISSUED,
            period_end=ISSUED + timedelta(days=31),
        )
    return invoice


def pdf_text(pdf, tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def xml_of(pdf):
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    return etree.fromstring(xml)


def amounts(root, path):
    return [Decimal(node.text) for node in root.iterfind(path, NS)]


def major(minor):
    return Decimal(minor) / 100


def squash(text):
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


# Every mention the issue lists (L441-9, CGI art. 242 nonies A), as the PDF prints it on a
# business buyer's invoice under French VAT, then on a reverse-charged EU business's one.
# A line reads across its columns: description, quantity, unit price before tax, VAT rate,
# amount before tax.
MENTIONS = {
    "fr": {
        "seller name": ["e-confiance SAS"],
        "legal form and share capital": ["SAS au capital de 10 000 €"],
        "SIREN and SIRET": ["SIREN 123456782", "SIRET 12345678200002"],
        "RCS city": ["RCS Paris 123456782"],
        "seller VAT number": ["N° de TVA intracommunautaire : FR11123456782"],
        "seller address": ["12 rue de la Paix, 75002 Paris, France"],
        "buyer name": ["Boulangerie Martin", "Camille Martin"],
        "buyer address": ["3 place du Marché", "69002 Lyon"],
        "buyer VAT number": ["N° de TVA intracommunautaire : FR40303265045"],
        "number": ["Facture 2026-000042", "Numéro de facture 2026-000042"],
        "issue date": ["Date d’émission 15 janvier 2026"],
        "service period": ["Période facturée 15 janvier 2026 – 15 février 2026"],
        "line headings": ["Désignation Qté Prix unitaire HT Taux de TVA Montant HT"],
        "line": ["Pro, mensuel 1 49,00 € 20 % 49,00 €"],
        "total before tax": ["Total HT 49,00 €"],
        "VAT by rate": ["TVA 20 % 9,80 €"],
        "total": ["Total TTC 58,80 €"],
        "payment date and method": ["Payée par carte le 15 janvier 2026."],
        "no discount": ["Pas d’escompte pour paiement anticipé."],
        "late penalties": [
            "En cas de retard de paiement : pénalités au taux de trois fois le taux d’intérêt légal"
        ],
        "recovery indemnity": [
            "indemnité forfaitaire de 40,00 € pour frais de recouvrement",
            "L441-10 et D441-5 du Code de commerce",
        ],
    },
    "en": {
        "seller name": ["e-confiance SAS"],
        "legal form and share capital": ["SAS with a share capital of 10 000 €"],
        "SIREN and SIRET": ["SIREN 123456782", "SIRET 12345678200002"],
        "RCS city": ["RCS Paris 123456782"],
        "seller VAT number": ["VAT number: FR11123456782"],
        "seller address": ["12 rue de la Paix, 75002 Paris, France"],
        "buyer name": ["Boulangerie Martin", "Camille Martin"],
        "buyer address": ["3 place du Marché", "69002 Lyon"],
        "buyer VAT number": ["VAT number: FR40303265045"],
        "number": ["Invoice 2026-000042", "Invoice number 2026-000042"],
        "issue date": ["Issue date January 15, 2026"],
        "service period": ["Service period January 15, 2026 – February 15, 2026"],
        "line headings": ["Description Qty Unit price excl. VAT VAT rate Amount excl. VAT"],
        "line": ["Pro, monthly 1 €49.00 20% €49.00"],
        "total before tax": ["Subtotal excl. VAT €49.00"],
        "VAT by rate": ["VAT 20% €9.80"],
        "total": ["Total incl. VAT €58.80"],
        "payment date and method": ["Paid by card on January 15, 2026."],
        "no discount": ["No discount for early payment."],
        "late penalties": ["Late payment: penalties at three times the French legal interest rate"],
        "recovery indemnity": [
            "fixed indemnity of €40.00 for recovery costs",
            "L441-10 and D441-5 of the Code de commerce",
        ],
    },
}
REVERSE_CHARGE_MENTIONS = {
    "fr": {
        "reverse-charge mention": ["Autoliquidation – article 196 de la directive 2006/112/CE"],
        "buyer VAT number": ["N° de TVA intracommunautaire : DE136695976"],
        "VAT by rate": ["TVA 0 % 0,00 €"],
        "total": ["Total TTC 49,00 €"],
    },
    "en": {
        "reverse-charge mention": ["Reverse charge – Article 196 of Council Directive 2006/112/EC"],
        "buyer VAT number": ["VAT number: DE136695976"],
        "VAT by rate": ["VAT 0% €0.00"],
        "total": ["Total incl. VAT €49.00"],
    },
}


def missing_mentions(text, expected):
    """{mention: the words of it not found in `text`}, for those not all there."""
    missing = {
        item: [one for one in said if squash(one) not in text] for item, said in expected.items()
    }
    return {item: said for item, said in missing.items() if said}


def mentions_on_invoices(customer, catalog, tmp_path, language):
    """The text of a French-VAT invoice to a business and of a reverse-charged one, in
    `language`, and the mentions missing from each."""
    invoice = make_invoice(customer, catalog, language=language)
    text = squash(pdf_text(document_pdf(invoice), tmp_path))
    reverse = make_invoice(
        UserFactory(), catalog, number="2026-000043", language=language, **KINDS["reverse_charge"]
    )
    reverse_text = squash(pdf_text(document_pdf(reverse), tmp_path))
    return (
        text,
        reverse_text,
        missing_mentions(text, MENTIONS[language]),
        missing_mentions(reverse_text, REVERSE_CHARGE_MENTIONS[language]),
    )


def test_every_legal_mention_is_on_a_french_invoice_in_french(customer, catalog, tmp_path):
    text, reverse_text, missing, missing_reverse = mentions_on_invoices(
        customer, catalog, tmp_path, "fr"
    )
    assert missing == {}
    assert missing_reverse == {}
    # The legal mentions are French on a French invoice: nothing in English slips in.
    for english in ("Invoice", "Paid by card", "VAT number", "Late payment", "Reverse charge"):
        assert english not in text + reverse_text, english
    # Under French VAT there is no reverse-charge mention; reverse-charged, no French VAT.
    assert "Autoliquidation" not in text
    assert "TVA 20 %" not in reverse_text


def test_every_legal_mention_is_on_an_english_invoice_in_english(customer, catalog, tmp_path):
    text, reverse_text, missing, missing_reverse = mentions_on_invoices(
        customer, catalog, tmp_path, "en"
    )
    assert missing == {}
    assert missing_reverse == {}
    # The invoice is in the customer's language: no French heading or mention left.
    for french in ("Facture", "Payée par carte", "TVA", "Autoliquidation", "pénalités"):
        assert french not in text + reverse_text, french
    assert "Reverse charge" not in text
    assert "VAT 20%" not in reverse_text


def test_a_consumer_is_not_told_of_the_business_recovery_indemnity(customer, catalog, tmp_path):
    buyer = {"name": "Camille Martin", "country": "FR", "is_business": False, "vat_number": ""}
    invoice = make_invoice(customer, catalog, buyer=buyer)
    text = squash(pdf_text(document_pdf(invoice), tmp_path))
    assert "40,00 €" not in text
    assert "intracommunautaire : FR4" not in text
    assert "Payée par carte le 15 janvier 2026." in text


def test_the_xml_equals_the_pdf_equals_the_database(customer, catalog, tmp_path):
    invoice = make_invoice(
        customer,
        catalog,
        subtotal=9800,
        tax=1960,
        lines=[("Pro, monthly / Pro, mensuel", 14700), ("Free months / Mois offerts : 1", -4900)],
    )
    pdf = document_pdf(invoice)
    root = xml_of(pdf)
    text = squash(pdf_text(pdf, tmp_path))
    summary = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    money_path = summary + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert amounts(root, money_path + "TaxBasisTotalAmount") == [major(invoice.subtotal)]
    assert amounts(root, money_path + "TaxTotalAmount") == [major(invoice.tax)]
    assert amounts(root, money_path + "GrandTotalAmount") == [major(invoice.total)]
    assert amounts(root, money_path + "LineTotalAmount") == [Decimal("147.00")]
    assert amounts(root, money_path + "AllowanceTotalAmount") == [Decimal("49.00")]
    assert amounts(root, money_path + "DuePayableAmount") == [Decimal("0.00")]
    tax = summary + "ram:ApplicableTradeTax/ram:"
    assert amounts(root, tax + "BasisAmount") == [Decimal("98.00")]
    assert amounts(root, tax + "CalculatedAmount") == [Decimal("19.60")]
    assert root.findtext(tax + "CategoryCode", namespaces=NS) == "S"
    assert amounts(root, tax + "RateApplicablePercent") == [Decimal("20.00")]
    for printed in ("98,00 €", "19,60 €", "117,60 €", "147,00 €", "-49,00 €"):
        assert printed in text.replace("−", "-"), printed
    assert root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) == invoice.number
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "380"
    seller = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
    assert root.findtext(seller + "ram:SellerTradeParty/ram:Name", namespaces=NS) == (
        "e-confiance SAS"
    )
    siren = root.find(seller + "ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", NS)
    assert (siren.text, siren.get("schemeID")) == ("123456782", "0002")
    assert root.findtext(seller + "ram:BuyerTradeParty/ram:Name", namespaces=NS) == (
        "Boulangerie Martin"
    )
    vat_ids = [
        node.text for node in root.iterfind(seller + "*/ram:SpecifiedTaxRegistration/ram:ID", NS)
    ]
    assert vat_ids == ["FR11123456782", "FR40303265045"]


KINDS = {
    "french_vat_eur": {"currency": "EUR"},
    "french_vat_usd": {"currency": "USD"},
    "french_vat_gbp": {"currency": "GBP"},
    "reverse_charge": {
        "regime": TaxRegime.REVERSE_CHARGE,
        "rate_bps": 0,
        "tax": 0,
        "buyer": {
            "name": "Anna Schmidt",
            "company": "Schmidt GmbH",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
            "is_business": True,
            "vat_number": "DE136695976",
        },
    },
    "outside_scope_non_eu": {
        "regime": TaxRegime.OUTSIDE_SCOPE,
        "rate_bps": 0,
        "tax": 0,
        "currency": "USD",
        "buyer": {
            "name": "Jo Smith",
            "company": "Smith Inc.",
            "city": "Boston",
            "country": "US",
            "is_business": True,
            "vat_number": "",
        },
    },
}
CATEGORY = {
    "french_vat_eur": "S",
    "french_vat_usd": "S",
    "french_vat_gbp": "S",
    "reverse_charge": "AE",
    "outside_scope_non_eu": "O",
}


# VAT 9.80 USD at 0.86 = 8.428 -> 8.43 €; 9.80 GBP at 1.15 = 11.27 €. The credit notes of
# 20.00 give back 3.33 of VAT: 2.86 € and 3.83 €, at the rate of the invoice they correct.
EUR_VAT = {
    "french_vat_usd": {
        "invoice": (Decimal("8.43"), "TVA en euros : 8,43 € (taux 1 USD = 0,86 €)"),
        "credit_note": (Decimal("2.86"), "TVA en euros : 2,86 € (taux 1 USD = 0,86 €)"),
    },
    "french_vat_gbp": {
        "invoice": (Decimal("11.27"), "TVA en euros : 11,27 € (taux 1 GBP = 1,15 €)"),
        "credit_note": (Decimal("3.83"), "TVA en euros : 3,83 € (taux 1 GBP = 1,15 €)"),
    },
}


@pytest.mark.parametrize("credit_note", [False, True], ids=["invoice", "credit_note"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_of_document_is_a_valid_factur_x_en16931(
    customer, catalog, tmp_path, kind, credit_note
):
    invoice = make_invoice(customer, catalog, **KINDS[kind])
    document = invoice
    if credit_note:
        document = credit_note_issue(invoice=invoice, amount=2000, now=ISSUED + timedelta(days=2))
    pdf = document_pdf(document)
    assert len(pdf) < 100_000
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    root = etree.fromstring(xml)
    assert facturx.get_level(root) == "en16931"
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == (
        "381" if credit_note else "380"
    )
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    assert root.findtext(settlement + "ram:InvoiceCurrencyCode", namespaces=NS) == (
        invoice.currency
    )
    assert (
        root.findtext(settlement + "ram:ApplicableTradeTax/ram:CategoryCode", namespaces=NS)
        == (CATEGORY[kind])
    )
    total = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert amounts(root, total + "GrandTotalAmount") == [major(document.total)]
    in_currency = f"TaxTotalAmount[@currencyID='{invoice.currency}']"
    assert amounts(root, total + in_currency) == [major(document.tax)]
    text = squash(pdf_text(pdf, tmp_path))
    # CGI art. 242 nonies A: French VAT in another currency is stated in euros too (BT-6,
    # BT-111), at the demo rate of the setting (no rate entered by staff here).
    in_euros = EUR_VAT.get(kind, {}).get("credit_note" if credit_note else "invoice")
    if in_euros:
        tax_eur, printed = in_euros
        assert root.findtext(settlement + "ram:TaxCurrencyCode", namespaces=NS) == "EUR"
        totals = root.findall(total + "TaxTotalAmount", NS)
        assert [(t.get("currencyID"), Decimal(t.text)) for t in totals] == [
            (invoice.currency, major(document.tax)),
            ("EUR", tax_eur),
        ]
        assert squash(printed) in text
    else:
        assert root.find(settlement + "ram:TaxCurrencyCode", NS) is None
        assert len(root.findall(total + "TaxTotalAmount", NS)) == 1
        assert "TVA en euros" not in text
    if credit_note:
        reference = settlement + "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
        assert root.findtext(reference, namespaces=NS) == invoice.number
        assert f"Avoir sur la facture {invoice.number} du 15 janvier 2026" in text
        assert "Remboursé sur la carte" not in text  # a credit kept on the account
    if kind == "reverse_charge":
        assert "Autoliquidation – article 196 de la directive 2006/112/CE" in text
        assert "N° de TVA intracommunautaire : DE136695976" in text
    if kind == "outside_scope_non_eu":
        assert "TVA non applicable – article 259-1 du CGI" in text
        assert root.findtext(
            settlement + "ram:ApplicableTradeTax/ram:ExemptionReasonCode", namespaces=NS
        ) == ("VATEX-EU-O")


def test_the_pdf_renders_as_images_for_print(customer, catalog, settings):
    """Writes var/test-artifacts/invoice-*.png, greyscale as a black and white printer would."""
    invoice = make_invoice(customer, catalog)
    note = credit_note_issue(invoice=invoice, amount=5880, now=ISSUED, refunded_at=ISSUED)
    artifacts = settings.BASE_DIR / "var" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    for document in (invoice, note):
        pdf_path = artifacts / f"{document.number}.pdf"
        pdf_path.write_bytes(document_pdf(document))
        prefix = artifacts / f"invoice-{document.number}"
        subprocess.run(
            ["pdftoppm", "-png", "-gray", "-r", "60", str(pdf_path), str(prefix)], check=True
        )
        image = next(artifacts.glob(f"invoice-{document.number}*.png"))
        assert image.stat().st_size > 5_000  # a page with text on it, not a blank
    assert note.total == invoice.total
    assert (note.subtotal, note.tax) == (invoice.subtotal, invoice.tax)


# --- never edited after issue -------------------------------------------------------------------


def test_an_issued_invoice_cannot_be_edited_only_its_payment_state_moves(customer, catalog):
    invoice = make_invoice(customer, catalog)
    invoice.total = 1
    with pytest.raises(IssuedDocumentEdited):
        invoice.save()
    with pytest.raises(IssuedDocumentEdited):
        invoice.save(update_fields=["total"])
    with pytest.raises(IssuedDocumentEdited):
        Invoice.objects.filter(pk=invoice.pk).update(subtotal=0)
    with pytest.raises(IssuedDocumentEdited):
        Invoice.objects.filter(pk=invoice.pk).update(seller={"name": "Someone else"})
    line = invoice.lines.get()
    line.amount = 1
    with pytest.raises(IssuedDocumentEdited):
        line.save()
    with pytest.raises(IssuedDocumentEdited):
        InvoiceLine.objects.filter(pk=line.pk).update(amount=1)
    with pytest.raises(IssuedDocumentEdited):
        invoice.delete()

    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.total, invoice.subtotal, invoice.lines.get().amount) == (5880, 4900, 4900)
    invoice.amount_refunded = 1000
    invoice.status = InvoiceStatus.UNCOLLECTIBLE
    invoice.save()
    Invoice.objects.filter(pk=invoice.pk).update(next_retry_at=None, status=InvoiceStatus.PAID)
    # An account's erasure replaces the buyer by its marker, the one change allowed.
    Invoice.objects.filter(pk=invoice.pk).update(buyer={"deleted": True})
    invoice.refresh_from_db()
    assert (invoice.amount_refunded, invoice.status, invoice.buyer) == (
        1000,
        InvoiceStatus.PAID,
        {"deleted": True},
    )


def test_a_credit_note_is_frozen_too_and_adds_up(customer, catalog):
    from django.db import IntegrityError, transaction

    invoice = make_invoice(customer, catalog)
    note = credit_note_issue(invoice=invoice, amount=1000, now=ISSUED)
    assert (note.subtotal, note.tax, note.total) == (833, 167, 1000)
    note.total = 2000
    with pytest.raises(IssuedDocumentEdited):
        note.save()
    with pytest.raises(IssuedDocumentEdited):
        CreditNote.objects.filter(pk=note.pk).update(total=2000)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditNote.objects.create(
            number="AV-2026-999999",
            invoice=invoice,
            user=customer,
            reason="credit",
            currency="EUR",
            subtotal=100,
            tax=20,
            total=150,
            tax_rate_bps=2000,
            period_start=ISSUED,
            period_end=ISSUED,
            issued_at=ISSUED,
        )


def test_credit_notes_have_their_own_gap_free_yearly_sequence(customer, catalog):
    invoice = make_invoice(customer, catalog)
    first = credit_note_issue(invoice=invoice, amount=100, now=ISSUED)
    second = credit_note_issue(invoice=invoice, amount=100, now=ISSUED + timedelta(days=1))
    assert credit_note_issue(invoice=invoice, amount=0, now=ISSUED) is None  # nothing credited
    next_year = credit_note_issue(invoice=invoice, amount=100, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert [first.number, second.number, next_year.number] == [
        "AV-2026-000001",
        "AV-2026-000002",
        "AV-2027-000001",
    ]
    assert invoice.number == "2026-000042"  # invoices keep their own sequence


# --- VAT in euros on invoices in another currency (CGI art. 242 nonies A) ---------------------


def usd_subscription(user, catalog):
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="USD")
    return Subscription.objects.create(
        user=user, plan=price.plan, price=price, status=SubscriptionStatus.ACTIVE, currency="USD"
    )


def issue(subscription, at):
    return invoice_issue(
        subscription=subscription,
        kind=InvoiceKind.RENEWAL,
        period_start=at,
        period_end=at + timedelta(days=30),
        now=at,
    )


def test_the_rate_staff_entered_for_the_issue_date_is_kept_on_the_invoice_and_its_notes(
    client, customer, catalog, tmp_path
):
    from tests.conftest import staff_login

    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Billing"))
    staff_login(client, staff)
    for valid_from, rate in (("2026-01-10", "0.9100"), ("2026-01-20", "0.9500")):
        response = client.post(
            "/en/admin/subscriptions/exchangerate/add/",
            {"currency": "USD", "valid_from": valid_from, "eur_per_unit": rate},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    sub = usd_subscription(customer, catalog)

    invoice = issue(sub, ISSUED)  # 15 January: the rate from the 10th

    # $55.00 before tax, 20 % VAT: $11.00 of VAT; 11.00 x 0.91 = 10.01 €.
    assert (invoice.currency, invoice.total, invoice.tax) == ("USD", 6600, 1100)
    assert (invoice.eur_rate, invoice.tax_eur) == (Decimal("0.91"), 1001)
    # A rate corrected afterwards changes no issued document: the invoice kept its own.
    rate = ExchangeRate.objects.get(valid_from="2026-01-10")
    rate.eur_per_unit = Decimal("0.99")
    rate.save()
    invoice.refresh_from_db()
    assert (invoice.eur_rate, invoice.tax_eur) == (Decimal("0.91"), 1001)
    with pytest.raises(IssuedDocumentEdited):
        Invoice.objects.filter(pk=invoice.pk).update(eur_rate=Decimal("0.99"))
    text = squash(pdf_text(document_pdf(invoice, language="en"), tmp_path))
    assert "VAT in euros: €10.01 (rate 1 USD = €0.91)" in text
    # A credit note on the 25th gives the VAT back at the invoice's rate, not the day's:
    # $55.00 back is $45.83 + $9.17 of VAT; 9.17 x 0.91 = 8.3447 -> 8.34 €.
    note = credit_note_issue(invoice=invoice, amount=5500, now=ISSUED + timedelta(days=10))
    assert (note.tax, note.eur_rate, note.tax_eur) == (917, Decimal("0.91"), 834)
    text = squash(pdf_text(document_pdf(note), tmp_path))
    assert "TVA en euros : 8,34 € (taux 1 USD = 0,91 €)" in text
    # A later invoice takes the rate of its own day.
    later = issue(sub, ISSUED + timedelta(days=30))
    assert (later.eur_rate, later.tax_eur) == (Decimal("0.95"), 1045)  # 11.00 x 0.95


def test_before_any_rate_is_entered_the_setting_s_rate_applies(customer, catalog, settings):
    settings.EUR_EXCHANGE_RATES = {"USD": "0.8642", "GBP": "1.15"}
    invoice = issue(usd_subscription(customer, catalog), ISSUED)
    assert (invoice.eur_rate, invoice.tax_eur) == (Decimal("0.8642"), 951)  # 11 x 0.8642


def test_no_vat_in_euros_on_a_euro_invoice_nor_without_french_vat(customer, catalog, tmp_path):
    euro = make_invoice(customer, catalog)
    reverse = make_invoice(
        UserFactory(), catalog, number="2026-000043", currency="USD", **KINDS["reverse_charge"]
    )
    for invoice in (euro, reverse):
        assert (invoice.eur_rate, invoice.tax_eur) == (None, None)
        assert "en euros" not in squash(pdf_text(document_pdf(invoice), tmp_path))


def test_the_invoice_page_states_the_vat_in_euros_too(client, customer, catalog):
    make_invoice(customer, catalog, currency="USD")
    client.force_login(customer)
    for language, said in (
        ("en", "VAT in euros: €8.43 (rate 1 USD = €0.86)"),
        ("fr", "TVA en euros : 8,43 € (taux 1 USD = 0,86 €)"),
    ):
        html = client.get(f"/{language}/account/invoices/2026-000042/").content.decode()
        assert squash(said) in squash(html.replace("&nbsp;", " ")), language
