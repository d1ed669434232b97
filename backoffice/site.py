"""The admin site staff work in: the work queue as home, unique section names, dj-stripe's
mirrors for superusers only."""

from typing import Any, cast

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from backoffice import dashboard
from backoffice.queue import work_queue
from backoffice.search import customer_file, customer_search
from subscriptions.models import Plan
from subscriptions.staff_wording import event_sentence, rule_label
from support import services as support

NOTE_MAX_LENGTH = 5000

# Sections named after what staff find in them (allauth's "account" app is also "Accounts").
SECTION_NAMES = {
    "account": _("Sign-in e-mail addresses"),
    "mfa": _("Two-factor authentication"),
    "auth": _("Staff groups"),
    "djstripe": _("Stripe mirrors (technical)"),
}
SUPERUSER_ONLY_APPS = {"djstripe"}


class SuperuserOnlyMixin:
    """dj-stripe's mirrors are technical and in English: superusers only, list and URL."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request) and super().has_view_permission(  # type: ignore[misc]
            request, obj
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request) and super().has_change_permission(  # type: ignore[misc]
            request, obj
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_module_permission(request) and super().has_add_permission(  # type: ignore[misc]
            request, *args
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request) and super().has_delete_permission(  # type: ignore[misc]
            request, obj
        )


class PortalAdminSite(admin.AdminSite):
    site_title = _("Back office")
    index_title = _("What waits for you")
    index_template = "admin/portal_index.html"

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        models = (
            model_or_iterable
            if isinstance(model_or_iterable, list | tuple)
            else [model_or_iterable]
        )
        if models and models[0]._meta.app_label in SUPERUSER_ONLY_APPS:
            base = admin_class or admin.ModelAdmin
            admin_class = type(base.__name__, (SuperuserOnlyMixin, base), {})
        super().register(model_or_iterable, admin_class, **options)

    def _build_app_dict(self, request: HttpRequest, label: Any = None) -> dict[str, Any]:
        app_dict = super()._build_app_dict(request, label)
        for app_label, app in app_dict.items():
            if app_label in SECTION_NAMES:
                app["name"] = SECTION_NAMES[app_label]
        return app_dict

    def app_index(
        self, request: HttpRequest, app_label: str, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # The section's own name, not "Administration de Abonnements".
        name = SECTION_NAMES.get(app_label) or apps.get_app_config(app_label).verbose_name
        return super().app_index(request, app_label, {"title": name, **(extra_context or {})})

    def get_urls(self) -> list[Any]:
        custom = [
            path("customers/", self.admin_view(self.customer_search_view), name="customer_search"),
            path("metrics/", self.admin_view(self.metrics_view), name="metrics"),
            path(
                "customers/<int:user_id>/",
                self.admin_view(self.customer_file_view),
                name="customer_file",
            ),
            path(
                "customers/<int:user_id>/notes/",
                self.admin_view(self.customer_note_add_view),
                name="customer_note_add",
            ),
        ]
        return custom + super().get_urls()

    def customer_search_view(self, request: HttpRequest) -> TemplateResponse:
        if not request.user.has_perm("accounts.view_user"):
            raise PermissionDenied
        query = request.GET.get("q", "")[:200]
        context = {
            **self.each_context(request),
            "title": _("Find a customer"),
            "query": query,
            "results": list(customer_search(query=query)) if query else None,
        }
        return TemplateResponse(request, "admin/customer_search.html", context)

    def customer_file_view(self, request: HttpRequest, user_id: int) -> TemplateResponse:
        if not request.user.has_perm("accounts.view_user"):
            raise PermissionDenied
        found = customer_file(user_id=user_id)
        if found is None:
            raise Http404
        language = translation.get_language() or "fr"
        plans = {p.code: p for p in Plan.objects.all()}
        context = {
            **self.each_context(request),
            "title": found.customer.email,
            "file": found,
            "timeline": [event_sentence(e, language, plans) for e in found.events],
            "refund_rows": [(r, rule_label(r.rule)) for r in found.refunds],
            "can_add_note": request.user.has_perm("support.add_internalnote"),
            "note_max_length": NOTE_MAX_LENGTH,
        }
        return TemplateResponse(request, "admin/customer_file.html", context)

    def customer_note_add_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("support.add_internalnote"):
            raise PermissionDenied
        customer = User.objects.filter(pk=user_id, is_staff=False).first()
        if customer is None:
            raise Http404
        body = request.POST.get("body", "").strip()[:NOTE_MAX_LENGTH]
        if body:
            support.internal_note_add(
                customer=customer,
                author=cast(User, request.user),
                body=body,
                now=timezone.now(),
            )
            messages.success(request, gettext("Your note was saved."))
        else:
            messages.error(request, gettext("The note is empty: nothing was saved."))
        return HttpResponseRedirect(reverse("admin:customer_file", args=[customer.pk]))

    def metrics_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("subscriptions.view_invoice"):
            raise PermissionDenied
        zone = timezone.get_current_timezone()
        language = translation.get_language() or "fr"
        charts, reasons = dashboard.charts(now=timezone.now(), zone=zone, language=language)
        wanted = request.GET.get("csv")
        if wanted:
            chart = next((c for c in charts if c.slug == wanted), None)
            if chart is None:
                raise Http404
            response = HttpResponse(chart.csv(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{chart.slug}.csv"'
            return response
        context = {
            **self.each_context(request),
            "title": _("The business in numbers"),
            "charts": charts,
            "reasons": reasons[:30],
        }
        return TemplateResponse(request, "admin/metrics.html", context)

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        user = request.user
        now = timezone.now()
        queue = work_queue(staff=user, now=now) if isinstance(user, User) else None
        return super().index(request, {"queue": queue, "now": now, **(extra_context or {})})
