"""Attachments: 3 files of 5 MB at most, PDF/PNG/JPEG/TXT/CSV by name and by content, stored
outside every served URL and sent only to their owner (or staff)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings

from support.attachments import MAX_FILE_BYTES
from support.models import Attachment, Ticket
from support.storage import private_storage
from tests.conftest import staff_login
from tests.factories import UserFactory
from tests.support.conftest import PDF, PNG, ticket_open, upload

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16


def post_ticket(client, *files):
    return client.post(
        "/en/account/support/new/",
        {
            "category": "technical",
            "subject": "See attached",
            "body": "Details attached.",
            "attachments": list(files),
        },
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("report.pdf", PDF, "application/pdf"),
        ("screen.PNG", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("notes.txt", "Café, déjà vu.\n".encode(), "text/plain"),
        ("export.csv", b"date;amount\n2026-03-01;49,00\n", "text/csv"),
    ],
)
def test_accepted_files_are_kept_with_a_sniffed_type(customer_client, name, content, content_type):
    response = post_ticket(customer_client, upload(name, content, "application/x-anything"))
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert (attachment.filename, attachment.size) == (name, len(content))
    assert attachment.content_type == content_type


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("tool.exe", b"MZ\x90\x00", "“tool.exe” cannot be attached: send a PDF, PNG"),
        ("page.html", b"<html></html>", "“page.html” cannot be attached"),
        ("noextension", b"hello", "“noextension” cannot be attached"),
        ("fake.pdf", b"<script>alert(1)</script>", "“fake.pdf” is not a real PDF file."),
        ("fake.png", PDF, "“fake.png” is not a real PNG file."),
        ("fake.jpg", PNG, "“fake.jpg” is not a real JPG file."),
        ("latin1.txt", "Café".encode("latin-1"), "“latin1.txt” is not a real TXT file."),
        ("binary.csv", b"a,b\n\x00\x01\x02", "“binary.csv” is not a real CSV file."),
        ("empty.pdf", b"", "The submitted file is empty."),
    ],
)
def test_wrong_or_fake_files_are_refused_and_nothing_is_saved(
    customer_client, name, content, error
):
    response = post_ticket(customer_client, upload(name, content))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


def test_a_file_over_5_mb_is_refused(customer_client):
    big = upload("big.pdf", b"%PDF-" + b"0" * (MAX_FILE_BYTES - 4))
    response = post_ticket(customer_client, big)
    assert response.status_code == 400
    assert "“big.pdf” is too large: each file may be at most 5 MB." in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_file_of_exactly_5_mb_is_accepted(customer_client):
    response = post_ticket(
        customer_client, upload("max.pdf", b"%PDF-" + b"0" * (MAX_FILE_BYTES - 5))
    )
    assert response.status_code == 302


def test_more_than_3_files_are_refused(customer_client):
    files = [upload(f"{n}.pdf", PDF) for n in range(4)]
    response = post_ticket(customer_client, *files)
    assert response.status_code == 400
    assert "You can attach at most 3 files to a message." in response.content.decode()
    assert not Ticket.objects.exists()


def test_one_bad_file_among_good_ones_refuses_the_message(customer_client, customer):
    ticket = ticket_open(customer, now=NOW)
    response = customer_client.post(
        f"/en/account/support/{ticket.pk}/",
        {"body": "More", "attachments": [upload("ok.pdf", PDF), upload("bad.pdf", b"nope")]},
    )
    assert response.status_code == 400
    assert "“bad.pdf” is not a real PDF file." in response.content.decode()
    assert ticket.messages.count() == 1
    assert not Attachment.objects.exists()


def test_files_are_stored_privately_under_a_random_name(customer, settings):
    ticket_open(customer, now=NOW, files=[upload("../../etc/passwd.pdf", PDF)])
    attachment = Attachment.objects.get()
    path = Path(attachment.file.path)
    assert attachment.filename == "passwd.pdf"
    assert path.is_relative_to(Path(settings.MEDIA_ROOT) / "private")
    assert "passwd" not in path.name
    assert path.read_bytes() == PDF
    with pytest.raises(ValueError, match="no URL"):
        private_storage().url(attachment.file.name)


def test_the_owner_downloads_an_attachment_as_a_file(customer_client, customer):
    ticket_open(customer, now=NOW, files=[upload("Facture mars.pdf", PDF)])
    attachment = Attachment.objects.get()
    response = customer_client.get(f"/en/account/support/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "Facture mars.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


def test_staff_may_download_any_attachment_and_visitors_none(client, customer):
    ticket_open(customer, now=NOW, files=[upload("a.txt", b"hello")])
    url = f"/en/account/support/attachments/{Attachment.objects.get().pk}/"
    assert client.get(url).status_code == 302  # to the sign-in page
    staff_login(client, UserFactory(is_staff=True))
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"


def test_a_file_missing_from_disk_is_a_404_not_a_500(customer_client, customer):
    ticket_open(customer, now=NOW, files=[upload("gone.pdf", PDF)])
    attachment = Attachment.objects.get()
    Path(attachment.file.path).unlink()
    response = customer_client.get(f"/en/account/support/attachments/{attachment.pk}/")
    assert response.status_code == 404


def test_private_files_are_not_under_a_served_url():
    assert not settings.MEDIA_URL or "private" not in settings.MEDIA_URL
