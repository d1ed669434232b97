"""The request type of every page behind LoginRequiredMiddleware (portal/settings)."""

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """django-stubs' pattern: a request whose user is a logged-in customer, never anonymous,
    so views pass `request.user` to typed services without a cast."""

    user: User
    htmx: HtmxDetails  # django_htmx.middleware.HtmxMiddleware sets it on every request


class AmbiguousField(ValueError):
    """A form field that must be sent once came more than once ("confirm=no&confirm=yes")."""

    @property
    def message(self) -> str:
        return _("This form was sent with a field twice, so nothing was done. Please try again.")


def posted_once(data: QueryDict, name: str) -> str:
    """The field's only value ("" when absent). Django's QueryDict.get reads the last of
    repeated values, so "confirm=no&confirm=yes" would confirm: a repeated field is refused."""
    values = data.getlist(name)
    if len(values) > 1:
        raise AmbiguousField(name)
    return values[0] if values else ""
