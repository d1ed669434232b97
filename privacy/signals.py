from typing import Any

from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from accounts.models import User
from privacy import services
from privacy.models import DataExport


@receiver(post_delete, sender=DataExport, dispatch_uid="privacy-export-file-delete")
def export_file_delete(sender: Any, instance: DataExport, **kwargs: Any) -> None:
    """An export's archive goes with its row (an expired trial's purge deletes the user),
    once the deletion is committed."""
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: storage.delete(name))


@receiver(post_save, dispatch_uid="privacy-stripe-row-scrub")
def stripe_row_scrub(sender: Any, instance: Model, **kwargs: Any) -> None:
    """Whatever dj-stripe stores (a webhook's body and headers, the event, the objects it
    mirrors), however it is processed (in the request, in a worker, retried): a row about a
    deleted account keeps no personal value."""
    if sender._meta.app_label == "djstripe":
        services.stripe_row_scrub(obj=instance)


@receiver(pre_delete, sender=User, dispatch_uid="privacy-account-traces-erase")
def account_traces_erase(sender: Any, instance: User, **kwargs: Any) -> None:
    """A user row deleted outright (an expired trial's purge, the admin) takes its own rows
    with it; what other tables hold about them (Stripe's events, the admin log) is erased
    first."""
    services.account_traces_erase(user=instance)
