from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.http import AmbiguousField, posted_once
from accounts.models import PROFILE_FIELDS, User
from accounts.staff import superuser_reauthenticated
from accounts.validators import single_line
from privacy import services as privacy
from subscriptions.admin import AuditEventInline
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionError
from support.admin import CustomerNoteInline, internal_notes_save
from support.models import InternalNote

ACCOUNT_DELETE_LABEL = _("Delete this customer's account")
# Printed on invoices and put in e-mail headers: one line, as on the customer's own forms.
SINGLE_LINE_FIELDS = ("name", "company", "address_line1", "address_line2", "postal_code", "city")


class UserAdminForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SINGLE_LINE_FIELDS:
            if name in self.fields:
                self.fields[name].validators.append(single_line)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminForm
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
    readonly_fields = ["account_deletion"]
    inlines = [AuditEventInline]
    # No bulk action deletes accounts: one account at a time, by a superuser who has just
    # signed in again, through the same service as the customer's own deletion (001).
    actions: list[Any] = []

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Django's row deletion would skip the erasure and keep nothing for the law

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        inlines = list(super().get_inlines(request, obj))
        if obj is not None and not obj.is_staff:
            inlines.append(CustomerNoteInline)  # issue 16 §5: notes about the customer
        return inlines

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is InternalNote:
            internal_notes_save(request, formset, customer=form.instance, ticket=None)
            return
        super().save_formset(request, form, formset, change)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and request.user.is_superuser and not obj.is_staff and obj.is_active:
            return [*fieldsets, (_("Account"), {"fields": ["account_deletion"]})]
        return fieldsets

    @admin.display(description=_("account"))
    def account_deletion(self, obj: User) -> SafeString:
        url = reverse("admin:accounts_user_account_delete", args=[obj.pk])
        return format_html('<a class="deletelink" href="{}">{}</a>', url, ACCOUNT_DELETE_LABEL)

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<path:object_id>/account-delete/",
                self.admin_site.admin_view(superuser_reauthenticated(self.account_delete_view)),
                name="accounts_user_account_delete",
            )
        ]
        return custom + super().get_urls()

    def account_delete_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404
        change_url = reverse("admin:accounts_user_change", args=[user.pk])
        try:
            confirmed = request.method == "POST" and posted_once(request.POST, "confirmed") == "yes"
        except AmbiguousField as exc:  # "confirmed=no&confirmed=yes" is not a yes
            self.message_user(request, exc.message, messages.ERROR)
            confirmed = False
        if confirmed:
            email = user.email
            try:
                deleted = privacy.account_delete(user=user, actor=request.user, now=timezone.now())
            except (privacy.PrivacyError, SubscriptionError) as exc:
                self.message_user(request, str(exc.message), messages.ERROR)
                return HttpResponseRedirect(change_url)
            if deleted is False:
                self.message_user(
                    request, gettext("This account was already deleted."), messages.WARNING
                )
            else:
                text = gettext("The account of %(email)s has been deleted.") % {"email": email}
                self.message_user(request, text, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:accounts_user_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "customer": user,
            "change_url": change_url,
            "title": ACCOUNT_DELETE_LABEL,
            "retention_years": privacy.INVOICE_RETENTION_YEARS,
        }
        return TemplateResponse(request, "admin/account_delete_confirm.html", context)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Staff edits of a profile join the customer's timeline like the customer's own
        # (field names only); the admin saves inside a transaction.
        changes = [name for name in PROFILE_FIELDS if name in form.changed_data]
        if change and changes:
            audit(user=obj, actor=request.user, kind="profile_updated", changes=changes)  # type: ignore[arg-type]
