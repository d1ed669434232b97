"""Accounting exports live outside every served URL: only the staff download view reads them."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.functional import cached_property


class PrivateAccountingStorage(FileSystemStorage):
    """MEDIA_ROOT/private/accounting, with no URL."""

    @cached_property
    def base_location(self) -> str:
        # Read at use, so that a changed MEDIA_ROOT (tests) is followed.
        return os.path.join(settings.MEDIA_ROOT, "private", "accounting")

    def url(self, name: str | None) -> str:
        raise ValueError("Accounting exports have no URL: use the staff download view.")


accounting_storage = PrivateAccountingStorage()
