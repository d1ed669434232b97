"""Staff download any invoice or credit note, and export a date range for the accountant."""

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import facturx
import pytest

from subscriptions.models import AccountingExport, AccountingExportStatus
from subscriptions.services.accounting_exports import JOURNAL_COLUMNS, journal_row
from subscriptions.services.credit_notes import credit_note_issue
from tests.conftest import staff_login
from tests.factories import UserFactory
from tests.subscriptions.test_documents import ISSUED, make_invoice


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def documents(customer, catalog):
    invoice = make_invoice(customer, catalog)
    later = make_invoice(
        UserFactory(),
        catalog,
        number="2026-000043",
        buyer={"company": '=HYPERLINK("http://x")', "country": "FR", "is_business": True},
    )
    note = credit_note_issue(
        invoice=invoice, amount=5880, now=ISSUED + timedelta(days=1), refunded_at=ISSUED
    )
    return invoice, later, note


def test_the_change_pages_link_the_pdf_and_staff_download_it(admin_client, documents):
    invoice, _later, note = documents
    page = admin_client.get(f"/fr/admin/subscriptions/invoice/{invoice.pk}/change/")
    assert 'href="/fr/admin/documents/invoice/2026-000042/pdf/"' in page.content.decode()
    page = admin_client.get(f"/fr/admin/subscriptions/creditnote/{note.pk}/change/")
    html = page.content.decode()
    assert f'href="/fr/admin/documents/credit-note/{note.number}/pdf/"' in html
    assert "Télécharger le PDF" in html

    response = admin_client.get(f"/en/admin/documents/credit-note/{note.number}/pdf/")
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == f'attachment; filename="credit-note-{note.number}.pdf"'
    )
    _name, xml = facturx.get_xml_from_pdf(response.content, check_xsd=True)
    assert b"2026-000042" in xml
    assert admin_client.get("/en/admin/documents/invoice/2026-999999/pdf/").status_code == 404
    assert admin_client.get("/en/admin/documents/invoice/x%00/pdf/").status_code == 404


def test_a_customer_or_staff_without_the_permission_cannot_download(client, documents, customer):
    client.force_login(customer)
    response = client.get("/en/admin/documents/invoice/2026-000042/pdf/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    staff_login(client, UserFactory(is_staff=True))
    assert client.get("/en/admin/documents/invoice/2026-000042/pdf/").status_code == 403
    assert client.get("/en/admin/documents/accounting-export/").status_code == 403


def test_the_accounting_export_zips_the_pdfs_with_a_journal(
    admin_client, documents, django_capture_on_commit_callbacks
):
    _invoice, _later, note = documents
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/en/admin/documents/accounting-export/", {"start": "2026-01-15", "end": "2026-01-16"}
        )
    assert response.status_code == 302
    export = AccountingExport.objects.get()
    assert (export.status, export.progress, export.documents) == (
        AccountingExportStatus.READY,
        100,
        3,
    )
    page = admin_client.get("/en/admin/documents/accounting-export/").content.decode()
    assert "invoices-2026-01-15-2026-01-16.zip" in page
    download = admin_client.get(f"/en/admin/documents/accounting-export/{export.pk}/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert set(archive.namelist()) == {
        "invoices/invoice-2026-000042.pdf",
        "invoices/invoice-2026-000043.pdf",
        f"credit-notes/credit-note-{note.number}.pdf",
        "journal.csv",
    }
    rows = list(csv.DictReader(io.StringIO(archive.read("journal.csv").decode("utf-8-sig"))))
    assert [
        (r["number"], r["type"], r["date"], r["total_before_tax"], r["vat"], r["total"])
        for r in rows
    ] == [
        ("2026-000042", "invoice", "2026-01-15", "49.00", "9.80", "58.80"),
        ("2026-000043", "invoice", "2026-01-15", "49.00", "9.80", "58.80"),
        (note.number, "credit_note", "2026-01-16", "-49.00", "-9.80", "-58.80"),
    ]
    assert rows[0]["customer"] == "Boulangerie Martin"
    assert rows[1]["customer"].startswith("'=")  # never a formula in a spreadsheet
    assert rows[2]["corrected_invoice"] == "2026-000042"
    assert (rows[0]["currency"], rows[0]["status"], rows[2]["status"]) == (
        "EUR",
        "paid",
        "refunded",
    )
    assert [(r["vat_in_eur"], r["eur_rate"]) for r in rows] == [
        ("9.80", ""),
        ("9.80", ""),
        ("-9.80", ""),
    ]


def test_a_range_outside_the_documents_exports_nothing(
    admin_client, documents, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/en/admin/documents/accounting-export/", {"start": "2026-02-01", "end": "2026-02-28"}
        )
    export = AccountingExport.objects.get()
    assert (export.status, export.documents) == (AccountingExportStatus.READY, 0)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("", "2026-01-16", "Please give both dates."),
        ("2026-02-30", "2026-03-01", "Please give both dates."),
        ("2026-01-16", "2026-01-15", "The end date must not be before the start date."),
        ("2025-01-01", "2026-06-01", "Please export at most 366 days at a time."),
    ],
)
def test_bad_dates_are_explained_and_change_nothing(admin_client, db, start, end, message):
    response = admin_client.post(
        "/en/admin/documents/accounting-export/", {"start": start, "end": end}, follow=True
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AccountingExport.objects.exists()


def test_the_export_page_polls_while_one_is_prepared(
    admin_client, db, django_assert_max_num_queries
):
    for n in range(5):
        AccountingExport.objects.create(
            start=datetime(2026, 1, 1, tzinfo=UTC).date(),
            end=datetime(2026, 1, 31, tzinfo=UTC).date(),
            created_at=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=n),
            status=AccountingExportStatus.RUNNING if n == 4 else AccountingExportStatus.READY,
            progress=40,
        )
    with django_assert_max_num_queries(8):
        response = admin_client.get(
            "/en/admin/documents/accounting-export/", headers={"HX-Request": "true"}
        )
    html = response.content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert 'value="40"' in html
    assert "<form" not in html  # only the progress block


def test_the_journal_gives_the_vat_in_euros_of_a_document_in_another_currency(customer, catalog):
    # $9.80 of French VAT at the setting's demo rate, 0.86: 8.43 €; the credit note of $58.80
    # gives it back at the same rate.
    invoice = make_invoice(customer, catalog, currency="USD")
    note = credit_note_issue(invoice=invoice, amount=5880, now=ISSUED, refunded_at=ISSUED)
    columns = JOURNAL_COLUMNS.index("vat"), JOURNAL_COLUMNS.index("currency")
    in_euros = JOURNAL_COLUMNS.index("vat_in_eur"), JOURNAL_COLUMNS.index("eur_rate")
    rows = [journal_row(invoice), journal_row(note)]
    assert [[row[i] for i in (*columns, *in_euros)] for row in rows] == [
        ["9.80", "USD", "8.43", "0.86"],
        ["-9.80", "USD", "-8.43", "0.86"],
    ]
