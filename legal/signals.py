"""004: a customer who joined before the latest terms and has not read them is told so on
every page of the session (the date is kept in the session: no query per page)."""

from typing import Any

from allauth.account.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from legal.selectors import terms_unseen


@receiver(user_logged_in, dispatch_uid="legal-terms-update")
def terms_update_remember(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    latest = terms_unseen(user)
    if latest is None or user.is_staff or latest.published_at is None:
        return
    if latest.published_at > user.date_joined:
        request.session["terms_update"] = latest.last_updated.isoformat()
