from datetime import timedelta

import facturx
from django.utils import timezone
from playwright.sync_api import expect

from subscriptions.models import CreditNote, Invoice
from subscriptions.services.refunds import refund_request_create


def test_a_refunded_customer_finds_the_credit_note_beside_its_invoice_and_downloads_it(
    page, settle, login, subscribed_customer, customer, transactional_db, tmp_path
):
    subscribed_customer(language="fr", at=timezone.now() - timedelta(days=3))
    invoice = Invoice.objects.get()
    refund_request_create(
        user=customer, invoice=invoice, reason="changed_mind", details="", now=timezone.now()
    )
    note = CreditNote.objects.get()
    login(customer, language="fr")
    page.goto("/fr/account/invoices/")
    settle()
    row = page.locator(f"#credit-note-{note.number}")
    expect(row).to_contain_text(f"Avoir sur la facture {invoice.number}")
    expect(row).to_contain_text("49,00")
    expect(row).to_contain_text("Remboursé sur la carte")
    expect(page.locator(f"#invoice-{invoice.number}")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name=f"PDF de l’avoir {note.number}").click()
    download = info.value
    assert download.suggested_filename == f"credit-note-{note.number}.pdf"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    _name, xml = facturx.get_xml_from_pdf(path.read_bytes(), check_xsd=True)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml
    assert invoice.number.encode() in xml

    page.get_by_role("link", name=f"Voir l’avoir {note.number}").click()
    settle()
    expect(page.get_by_role("heading", name=f"Avoir {note.number}")).to_be_visible()
    expect(page.get_by_text("Remboursé sur la carte le")).to_be_visible()
