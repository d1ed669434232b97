"""Ticket attachments live outside every served URL: only the download view reads them."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.functional import cached_property


class PrivateStorage(FileSystemStorage):
    """MEDIA_ROOT/private, with no URL: files are sent by `support:attachment`, after the
    ownership check, never by the web server."""

    @cached_property
    def base_location(self) -> str:
        # Read at use, so that a changed MEDIA_ROOT (tests) is followed.
        return os.path.join(settings.MEDIA_ROOT, "private")

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no URL: use the support:attachment view.")


_private = PrivateStorage()


def private_storage() -> PrivateStorage:
    """A callable, so migrations record a reference rather than a path."""
    return _private
