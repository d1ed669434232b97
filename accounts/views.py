from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse, translate_url
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import ProfileForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from subscriptions import selectors


@login_not_required
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The same page in the other language, the choice remembered (cookie and profile).

    Django's own set_language reads the page's address in the language of the request (the
    browser's, or the cookie's), so from /fr/ with an English browser it found no page to
    translate and stayed in French: here the address is read in its own prefix's language.
    """
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if language not in dict(settings.LANGUAGES):
        return HttpResponseRedirect(next_url if safe else "/")
    target = f"/{language}/"
    if safe and next_url:
        page_language = translation.get_language_from_path(urlsplit(next_url).path)
        with translation.override(page_language or settings.LANGUAGE_CODE):
            target = translate_url(next_url, language)
    response = HttpResponseRedirect(target)
    _language_cookie_set(response, language)
    if request.user.is_authenticated:
        services.user_language_set(user=request.user, language=language)
    return response


def home(request: AuthenticatedHttpRequest) -> TemplateResponse:
    subscription = selectors.subscription_current(user=request.user)
    days_left = selectors.trial_days_left(subscription, now=timezone.now()) if subscription else 0
    return TemplateResponse(
        request, "accounts/home.html", {"subscription": subscription, "days_left": days_left}
    )


@require_http_methods(["GET", "POST"])
def user_profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The customer's profile: one form, saved through profile_update; a new language takes
    effect at once (the page comes back under the new language's prefix)."""
    user: User = request.user
    if request.method == "POST":
        # A fresh copy: the form's model validation must not alter request.user in memory.
        form = ProfileForm(request.POST, instance=User.objects.get(pk=user.pk))
        if not form.is_valid():
            messages.error(
                request, _("Your profile was not saved: please correct the fields shown below.")
            )
            return TemplateResponse(
                request, "accounts/user_profile.html", {"form": form}, status=400
            )
        changed = services.profile_update(user=user, data=form.cleaned_data)
        with translation.override(user.language):
            if changed:
                messages.success(request, _("Your profile has been saved."))
            else:
                messages.info(request, _("No change to save: your profile is as it was."))
            response = HttpResponseRedirect(reverse("accounts:settings"))
        if "language" in changed:
            _language_cookie_set(response, user.language)
        return response
    form = ProfileForm(instance=user)
    return TemplateResponse(request, "accounts/user_profile.html", {"form": form})


def _language_cookie_set(response: HttpResponse, language: str) -> None:
    # As Django's set_language does: pages outside the language prefix follow the choice too.
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
