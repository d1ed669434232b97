from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from accounts import services
from subscriptions import selectors


@login_not_required
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language (keeps the current page), plus the choice saved on the profile."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and translation.check_for_language(language):
        services.user_language_set(user=request.user, language=language)
    return response


def home(request: HttpRequest) -> TemplateResponse:
    subscription = selectors.subscription_current(user=request.user)  # type: ignore[arg-type]
    days_left = selectors.trial_days_left(subscription, now=timezone.now()) if subscription else 0
    return TemplateResponse(
        request, "accounts/home.html", {"subscription": subscription, "days_left": days_left}
    )


def account_settings(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "accounts/user_settings.html", {})
