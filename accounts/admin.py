from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from subscriptions.admin import AuditEventInline


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "company", "country", "language", "is_staff", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "country", "language"]
    search_fields = ["email", "name", "company"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Customer"), {"fields": ("name", "company", "country", "time_zone", "language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [AuditEventInline]
