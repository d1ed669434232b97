from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation


class AccountAdapter(DefaultAccountAdapter):
    """Remembers the sign-up language and sends each customer back to it."""

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=False)
        user.name = form.cleaned_data.get("name", "")
        user.company = form.cleaned_data.get("company", "")
        # Tax follows the customer (subscriptions.tax_rules): asked at sign-up.
        user.country = form.cleaned_data.get("country") or user.country
        user.is_business = bool(form.cleaned_data.get("is_business", user.is_business))
        user.vat_number = form.cleaned_data.get("vat_number", "")
        user.language = translation.get_language() or user.language
        if commit:
            user.save()
        return user

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        url = super().get_login_redirect_url(request)
        if url == reverse("accounts:home"):
            with translation.override(request.user.language):  # type: ignore[union-attr]
                return reverse("accounts:home")
        return url

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # E-mails go out in the recipient's language, whatever page triggered them.
        user = context.get("user")
        language = getattr(user, "language", None) or translation.get_language()
        # allauth greets "from" the site: the vendor's name, not the server's address.
        context["current_site"] = SimpleNamespace(
            name=settings.VENDOR_NAME, domain=urlsplit(settings.SITE_URL).netloc
        )
        # allauth's e-mails use the portal's own frame (templates/account/email/).
        context.setdefault("vendor_name", settings.VENDOR_NAME)
        context.setdefault("site_url", settings.SITE_URL)
        with translation.override(language):
            super().send_mail(template_prefix, email, context)
