"""Reads for the terms pages and the "terms updated" banner."""

from django.db.models import QuerySet

from accounts.models import User
from legal.models import TermsSeen, TermsVersion


def terms_published() -> QuerySet[TermsVersion]:
    return TermsVersion.objects.filter(published_at__isnull=False).order_by(
        "-last_updated", "-published_at", "-pk"
    )


def terms_latest() -> TermsVersion | None:
    return terms_published().first()


def terms_unseen(user: User) -> TermsVersion | None:
    """The latest published version if this customer has not displayed it yet, else None."""
    latest = terms_latest()
    if latest is None or not user.is_authenticated:
        return None
    if TermsSeen.objects.filter(user=user, version=latest).exists():
        return None
    return latest
