from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

import portal.converters  # noqa: F401 - registers the tight path converters
from accounts import views as account_views
from portal import health, outbox
from subscriptions import views_webhooks

# The admin's own login form would take a password alone, without TOTP or rate limits:
# staff sign in through allauth like everyone (StaffMFAMiddleware then asks for TOTP).
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


@login_not_required
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page says: send them the static one."""
    response = HttpResponseRedirect(static("favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/setlang/", account_views.language_set, name="set_language"),
    # dj-stripe's endpoint with its processing queued to a worker (issue 18).
    path("stripe/webhook/<uuid:uuid>/", views_webhooks.webhook, name="stripe_webhook"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("health/", health.health, name="health"),
    path(
        "",
        login_not_required(RedirectView.as_view(pattern_name="subscriptions:pricing")),
        name="root",
    ),
]

urlpatterns += i18n_patterns(
    path("admin/documents/", include("subscriptions.urls_admin_documents")),
    path("admin/", admin.site.urls),
    path("auth/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("", include("subscriptions.urls")),
    path("account/support/", include("support.urls")),
    path("account/data/", include("privacy.urls")),
    path("terms/", include("legal.urls")),
)
if outbox.outbox_enabled():
    urlpatterns += i18n_patterns(
        path("outbox/", outbox.outbox_list, name="outbox"),
        path("outbox/<outbox_message:message_id>/", outbox.outbox_detail, name="outbox_detail"),
    )

admin.site.site_header = settings.VENDOR_NAME
