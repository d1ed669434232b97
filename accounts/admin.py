from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import PROFILE_FIELDS, User
from privacy.admin import account_delete_action
from subscriptions.admin import AuditEventInline
from subscriptions.services.auditing import audit


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "company", "country", "language", "is_staff", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "country", "language"]
    search_fields = ["email", "name", "company"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Customer"), {"fields": PROFILE_FIELDS}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [AuditEventInline]
    actions = [account_delete_action]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Staff edits of a profile join the customer's timeline like the customer's own
        # (field names only); the admin saves inside a transaction.
        changes = [name for name in PROFILE_FIELDS if name in form.changed_data]
        if change and changes:
            audit(user=obj, actor=request.user, kind="profile_updated", changes=changes)  # type: ignore[arg-type]
