from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from privacy.models import DataExport


@receiver(post_delete, sender=DataExport, dispatch_uid="privacy-export-file-delete")
def export_file_delete(sender: Any, instance: DataExport, **kwargs: Any) -> None:
    """An export's archive goes with its row (an expired trial's purge deletes the user),
    once the deletion is committed."""
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: storage.delete(name))
