"""Credit notes in the customer's data export, and kept as issued (amounts, number, the
invoice they correct) when the account is deleted, with the buyer replaced by its marker."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from privacy import services
from privacy.models import DataExport
from subscriptions.models import CreditNote, Invoice, Price
from subscriptions.money import to_major_units
from subscriptions.services.checkout import subscribe
from subscriptions.services.refunds import refund_request_create
from tests.privacy.conftest import PERSONAL
from tests.privacy.test_export import _csv_rows, _zip

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def refunded(person, catalog, add_card):
    add_card(person)
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
    subscribe(user=person, price=price, now=timezone.now() - timedelta(days=2))
    invoice = Invoice.objects.get(user=person)
    refund_request_create(
        user=person, invoice=invoice, reason="changed_mind", details="", now=timezone.now()
    )
    return person


def test_the_data_export_holds_the_credit_notes(refunded, client, mailoutbox):
    note = CreditNote.objects.get(user=refunded)
    client.force_login(refunded)
    client.post("/en/account/data/")
    export = DataExport.objects.get(user=refunded)
    archive = _zip(client.get(f"/en/account/data/exports/{export.token}/"))
    tables = json.loads(archive.read("data.json"))["tables"]
    assert [(row["number"], row["total"]) for row in tables["credit_notes"]] == [
        (note.number, note.total)
    ]
    assert tables["credit_note_lines"][0]["credit_note_id"] == note.pk
    rows = _csv_rows(archive, "credit_notes.csv")
    # For people: major units and the currency (issue 17); data.json keeps minor units.
    assert [(r["number"], r["total"], r["currency"]) for r in rows] == [
        (note.number, str(to_major_units(note.total, note.currency)), note.currency)
    ]


def test_deleting_the_account_keeps_the_credit_note_as_issued_without_the_buyer(
    refunded, mailoutbox
):
    note = CreditNote.objects.get(user=refunded)
    assert note.buyer["name"] == PERSONAL["name"]
    services.account_delete(user=refunded, actor=None, now=timezone.now())
    kept = CreditNote.objects.get(pk=note.pk)
    assert (kept.number, kept.total, kept.subtotal, kept.tax, kept.invoice_id) == (
        note.number,
        note.total,
        note.subtotal,
        note.tax,
        note.invoice_id,
    )
    # The buyer as kept invoices have it: a pseudonym and the country the tax rests on.
    assert kept.buyer == {"deleted": True, "pseudonym": f"C-{refunded.pk:06d}", "country": "FR"}
