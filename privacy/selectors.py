from accounts.models import User
from privacy.models import DataExport

EXPORTS_SHOWN = 10


def export_list_for_user(*, user: User) -> list[DataExport]:
    return list(DataExport.objects.filter(user=user).order_by("-created_at", "-pk")[:EXPORTS_SHOWN])


def export_for_download(*, user: User, token: str) -> DataExport | None:
    """The export behind a private link, only for its owner."""
    return DataExport.objects.filter(user=user, token=token).first()
