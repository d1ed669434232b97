"""Export archives live outside every served URL: only `privacy:export_download` reads them,
after checking that the signed-in customer owns the export."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.functional import cached_property


class PrivateExportStorage(FileSystemStorage):
    """MEDIA_ROOT/private/exports, with no URL."""

    @cached_property
    def base_location(self) -> str:
        # Read at use, so that a changed MEDIA_ROOT (tests) is followed.
        return os.path.join(settings.MEDIA_ROOT, "private", "exports")

    def url(self, name: str | None) -> str:
        raise ValueError("Exports have no URL: use the privacy:export_download view.")


_exports = PrivateExportStorage()


def export_storage() -> PrivateExportStorage:
    """A callable, so migrations record a reference rather than a path."""
    return _exports
