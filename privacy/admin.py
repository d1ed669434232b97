from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from privacy import services
from privacy.models import DataExport
from subscriptions.services.errors import SubscriptionError


@admin.register(DataExport)
class DataExportAdmin(admin.ModelAdmin):
    """Read-only: staff see that an export was made, never its archive or private link."""

    list_display = ["user", "status", "progress", "created_at", "finished_at", "expires_at"]
    list_filter = ["status"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    date_hierarchy = "created_at"
    fields = ("user", "status", "progress", "size", "created_at", "finished_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(
    description=_("Delete the selected accounts (invoices kept without personal data)"),
    permissions=["delete"],
)
def account_delete_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]
) -> TemplateResponse | None:
    """For the User admin: the same deletion as the customer's own (001: "a support ticket
    can ask the same"), after a confirmation page."""
    if request.POST.getlist("confirmed") != ["yes"]:  # once: "no&yes" is not a yes
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": _("Delete accounts"),
            "users": queryset,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "retention_years": services.INVOICE_RETENTION_YEARS,
        }
        return TemplateResponse(request, "privacy/admin_account_delete.html", context)
    deleted = 0
    for user in queryset:
        try:
            if services.account_delete(user=user, actor=request.user, now=timezone.now()):  # type: ignore[arg-type]
                deleted += 1
        except (services.PrivacyError, SubscriptionError) as exc:
            modeladmin.message_user(request, f"{user.pk}: {exc.message}", messages.ERROR)
    if deleted:
        modeladmin.message_user(
            request,
            ngettext("%(count)d account deleted.", "%(count)d accounts deleted.", deleted)
            % {"count": deleted},
            messages.SUCCESS,
        )
    return None
