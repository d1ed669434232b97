from django.db.models import QuerySet

from accounts.models import User
from privacy.models import DataExport


def export_list_for_user(*, user: User) -> QuerySet[DataExport]:
    """Newest first: the first one is the export in progress or the latest."""
    return DataExport.objects.filter(user=user).order_by("-created_at", "-pk")


def export_for_download(*, user: User, token: str) -> DataExport | None:
    """The export behind a private link, only for its owner."""
    return DataExport.objects.filter(user=user, token=token).first()
