"""What may be attached to a ticket message: type by extension and by content, size, count."""

import os
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

MAX_FILES = 3
MAX_FILE_MB = 5
MAX_FILE_BYTES = MAX_FILE_MB * 1024 * 1024

# Extension -> (content type we store and send, leading bytes; None: UTF-8 text).
ACCEPTED_TYPES: dict[str, tuple[str, bytes | None]] = {
    ".pdf": ("application/pdf", b"%PDF-"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    ".txt": ("text/plain", None),
    ".csv": ("text/csv", None),
}


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed `file_check`: its displayed name, size and sniffed type."""

    upload: UploadedFile
    filename: str
    size: int
    content_type: str


def _content_matches(upload: UploadedFile, magic: bytes | None) -> bool:
    upload.seek(0)
    try:
        if magic is not None:
            return bool(upload.read(len(magic)) == magic)
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return "\x00" not in text


def file_check(upload: UploadedFile) -> CheckedFile:
    name = os.path.basename((upload.name or "").replace("\\", "/"))[:255]
    extension = os.path.splitext(name)[1].lower()
    if extension not in ACCEPTED_TYPES:
        raise ValidationError(
            _("“%(name)s” cannot be attached: send a PDF, PNG, JPEG, TXT or CSV file."),
            code="file_type",
            params={"name": name},
        )
    size = upload.size or 0
    if size > MAX_FILE_BYTES:
        raise ValidationError(
            _("“%(name)s” is too large: each file may be at most %(max)s MB."),
            code="file_size",
            params={"name": name, "max": MAX_FILE_MB},
        )
    content_type, magic = ACCEPTED_TYPES[extension]
    if not _content_matches(upload, magic):
        raise ValidationError(
            _("“%(name)s” is not a real %(type)s file."),
            code="file_content",
            params={"name": name, "type": extension.lstrip(".").upper()},
        )
    return CheckedFile(upload=upload, filename=name, size=size, content_type=content_type)
