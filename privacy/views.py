"""Thin views for the customer's data: export it, delete the account (001)."""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AmbiguousField, AuthenticatedHttpRequest, posted_once
from accounts.models import User
from accounts.throttle import throttle_hit
from portal.pagination import page_of
from privacy import selectors, services
from privacy.models import ExportStatus
from subscriptions import selectors as subscription_selectors
from subscriptions.services.errors import SubscriptionError


@require_http_methods(["GET", "POST"])
def export(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The exports page; with htmx, only its progress block (polled while one is prepared)."""
    user: User = request.user
    if request.method == "POST":
        try:
            if throttled := throttle_hit(user_id=user.pk, action="privacy_export"):
                raise services.PrivacyError(throttled.message)
            export = services.export_request(user=user, now=timezone.now())
        except services.PrivacyError as exc:
            messages.error(request, exc.message)
        else:
            # A quick worker may have finished already: say what is true now.
            export.refresh_from_db(fields=["status"])
            messages.success(
                request,
                _("Your export is ready: download it below. We have also e-mailed you the link.")
                if export.status == ExportStatus.READY
                else _("Your export has started: we will e-mail you a link when it is ready."),
            )
        return redirect("privacy:export")
    exports = selectors.export_list_for_user(user=user)
    page = page_of(request, exports)
    current = (page[0] if len(page) else None) if page.number == 1 else exports.first()
    context = {
        "exports": page,
        "page": page,
        "current": current,
        "export_days": services.EXPORT_LIFETIME.days,
    }
    template = "privacy/export.html#progress" if request.htmx else "privacy/export.html"
    response = TemplateResponse(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
def export_download(request: AuthenticatedHttpRequest, token: str) -> HttpResponseBase:
    """The private link of the e-mail: the owner only (anyone else: 404), until it expires."""
    export = selectors.export_for_download(user=request.user, token=token)
    if export is None:
        raise Http404
    if export.is_expired:
        return TemplateResponse(
            request,
            "privacy/export_expired.html",
            {"export": export, "export_days": services.EXPORT_LIFETIME.days},
            status=410,
        )
    if export.status != ExportStatus.READY:
        return redirect("privacy:export")
    response = FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=export.download_name,
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@reauthentication_required(allow_get=True)
def account_delete(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What deleting the account does, then, with the password asked again, doing it."""
    user: User = request.user
    now = timezone.now()
    error = ""
    if request.method == "POST":
        try:
            confirmed = posted_once(request.POST, "confirm") == "yes"
        except AmbiguousField as exc:
            error = exc.message
        else:
            if not confirmed:
                error = _("Please tick the box to confirm that you want to delete your account.")
        if not error:
            try:
                services.account_delete(user=user, actor=user, now=now)
            except (services.PrivacyError, SubscriptionError) as exc:
                error = exc.message
            else:
                logout(request)
                return redirect("privacy:account_deleted")
    subscription = subscription_selectors.subscription_current(user=user)
    context = {
        "subscription": subscription if subscription and subscription.is_live else None,
        "refunds": services.account_closure_preview(user=user, now=now),
        "retention_years": services.INVOICE_RETENTION_YEARS,
        "error": error,
    }
    return TemplateResponse(
        request, "privacy/account_delete.html", context, status=400 if error else 200
    )


@login_not_required
@require_GET
def account_deleted(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "privacy/account_deleted.html", {})
