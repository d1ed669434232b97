import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from support import services
from support.attachments import file_check
from tests.factories import UserFactory

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Attachments go to a throwaway MEDIA_ROOT."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def other_customer(db):
    return UserFactory()


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def ticket_open(user, *, now, subject="My widget is broken", body="It shows nothing.", files=()):
    return services.ticket_create(
        user=user,
        category="technical",
        subject=subject,
        body=body,
        files=[file_check(f) for f in files],
        now=now,
    )
