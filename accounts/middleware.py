from collections.abc import Callable

from allauth.account.authentication import get_authentication_records
from allauth.core.internal.httpkit import add_query_params
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation


class UserTimezoneMiddleware:
    """Dates on pages are shown in the customer's own time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            with timezone.override(user.time_zone):
                return self.get_response(request)
        return self.get_response(request)


def staff_mfa_authenticated(request: HttpRequest) -> bool:
    """The session's user signed in (or re-authenticated) with a second factor in it."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


class StaffMFAMiddleware:
    """No admin page without TOTP: a staff member without it is sent to set it up, one whose
    session was not opened with it is asked for a code first (DESIGN.md: staff log in through
    allauth with TOTP)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and self._is_admin(request.path_info)
        ):
            next_params = {REDIRECT_FIELD_NAME: request.get_full_path()}
            if not Authenticator.objects.filter(
                user_id=user.pk, type=Authenticator.Type.TOTP
            ).exists():
                return redirect(add_query_params(reverse("mfa_activate_totp"), next_params))
            if not staff_mfa_authenticated(request):
                return redirect(add_query_params(reverse("mfa_reauthenticate"), next_params))
        return self.get_response(request)

    @staticmethod
    def _is_admin(path: str) -> bool:
        """An admin page in any language, but its logout: leaving needs no second factor."""
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                if path == reverse("admin:logout"):
                    return False
                if path.startswith(reverse("admin:index")):
                    return True
        return False
