"""The request type of every page behind LoginRequiredMiddleware (portal/settings)."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """django-stubs' pattern: a request whose user is a logged-in customer, never anonymous,
    so views pass `request.user` to typed services without a cast."""

    user: User
    htmx: HtmxDetails  # django_htmx.middleware.HtmxMiddleware sets it on every request
