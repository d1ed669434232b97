"""Staff actions that cannot be undone: a superuser's, after signing in again."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account.decorators import reauthentication_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def superuser_reauthenticated(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Superusers only; the page may be read, but a POST needs a sign-in of the last
    minutes (allauth's reauthentication, ACCOUNT_REAUTHENTICATION_TIMEOUT)."""
    fresh = reauthentication_required(view, allow_get=True)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_active and request.user.is_superuser):
            raise PermissionDenied
        return fresh(request, *args, **kwargs)

    return wrapper
