"""Staff answer tickets here: overdue ones first, a reply box that e-mails the customer."""

import importlib
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join, linebreaks
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.staff import superuser_reauthenticated
from support import services
from support.models import (
    Category,
    InternalNote,
    Message,
    Ticket,
    TicketStatus,
    overdue_condition,
)

ACCOUNT_DELETE_LABEL = _("Delete this customer's account now")


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == "yes":
            return queryset.filter(overdue_condition(timezone.now()))
        if self.value() == "no":
            return queryset.exclude(overdue_condition(timezone.now()))
        return queryset


class MessageInline(admin.StackedInline):
    model = Message
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "author", "is_staff", "text", "files")
    verbose_name_plural = _("conversation")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return (
            super()
            .get_queryset(request)
            .select_related("author")
            .prefetch_related("attachments")
            .order_by("created_at", "pk")
        )

    @admin.display(description=_("message"))
    def text(self, obj: Message) -> SafeString:
        return SafeString(linebreaks(obj.body, autoescape=True))

    @admin.display(description=_("attachments"))
    def files(self, obj: Message) -> SafeString:
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("support:attachment", args=[a.pk]), a.filename)
                for a in obj.attachments.all()
            ),
        )


class InternalNoteInline(admin.StackedInline):
    """Notes staff leave each other on the ticket: added here, never edited, never shown to
    the customer."""

    model = InternalNote
    fk_name = "ticket"
    extra = 1
    can_delete = False
    fields = ["body", "signature"]
    readonly_fields = ["signature"]
    verbose_name = _("internal note")
    verbose_name_plural = _("internal notes (never shown to the customer)")

    @admin.display(description=_("written by"))
    def signature(self, obj: InternalNote) -> str:
        if obj.pk is None:
            return ""
        author = obj.author.email if obj.author else gettext("a former staff member")
        when = formats.date_format(timezone.localtime(obj.created_at), "DATETIME_FORMAT")
        return f"{author}, {when}"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[InternalNote]:
        return super().get_queryset(request).select_related("author")


class CustomerNoteInline(InternalNoteInline):
    """The same notes on the customer's profile: all of them, whichever ticket they are on."""

    fk_name = "customer"


def internal_notes_save(
    request: HttpRequest, formset: Any, *, customer: User, ticket: Ticket | None
) -> None:
    """A note is only ever added, through the service that sets who wrote it and when."""
    for note in formset.save(commit=False):
        if note.pk is None and note.body.strip():
            services.internal_note_add(
                customer=customer,
                ticket=ticket,
                author=_staff(request),
                body=note.body,
                now=timezone.now(),
            )


class TicketAdminForm(forms.ModelForm):
    reply = forms.CharField(
        label=_("Reply to the customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text=_(
            "Shown on the customer's ticket and e-mailed to them in their language. "
            "Leave empty to save nothing."
        ),
    )

    class Meta:
        model = Ticket
        fields: list[str] = []


def _staff(request: HttpRequest) -> User:
    return cast(User, request.user)  # the admin only lets staff in


def _privacy_services() -> Any | None:
    """privacy.services (account_delete, PrivacyError): another app's, imported when used."""
    try:
        module = importlib.import_module("privacy.services")
    except ImportError:
        return None
    return module if hasattr(module, "account_delete") else None


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    list_display = [
        "overdue_marker",
        "reference",
        "subject",
        "user",
        "category",
        "status",
        "reply_due_at",
        "last_customer_message_at",
        "last_staff_reply_at",
    ]
    list_display_links = ["reference", "subject"]
    list_filter = ["status", "category", OverdueFilter]
    search_fields = ["subject", "user__email", "user__name", "user__company"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "category",
        "subject",
        "status",
        "created_at",
        "reply_due_at",
        "last_customer_message_at",
        "first_staff_reply_at",
        "last_staff_reply_at",
        "closed_at",
        "account_deletion",
    ]
    inlines = [MessageInline, InternalNoteInline]
    # Deleting an account is never a bulk action: one ticket, a superuser, a fresh sign-in.
    actions = ["close_tickets"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers open tickets from the portal

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return (
            Ticket.objects.with_overdue(timezone.now())
            .annotate(
                waiting=Case(
                    When(status=TicketStatus.OPEN, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .select_related("user")
        )

    def get_ordering(self, request: HttpRequest) -> list[str]:
        # Overdue first, then what still waits for a reply by due date, then the rest.
        return ["-is_overdue", "waiting", "reply_due_at"]

    def get_fieldsets(self, request: HttpRequest, obj: Ticket | None = None) -> Any:
        facts = [f for f in self.readonly_fields if f != "account_deletion"]
        if (
            obj is not None
            and obj.category == Category.ACCOUNT_DELETION
            and request.user.is_superuser
        ):
            facts.append("account_deletion")
        return [(None, {"fields": facts}), (_("Reply"), {"fields": ["reply"]})]

    @admin.display(description=_("overdue"), ordering="-is_overdue")
    def overdue_marker(self, obj: Ticket) -> SafeString | str:
        if getattr(obj, "is_overdue", False):
            return format_html('<strong class="ticket-overdue">⚠ {}</strong>', gettext("Overdue"))
        return ""

    @admin.display(description=_("reference"), ordering="pk")
    def reference(self, obj: Ticket) -> str:
        return obj.reference

    @admin.display(description=_("account"))
    def account_deletion(self, obj: Ticket) -> SafeString:
        url = reverse("admin:support_ticket_account_delete", args=[obj.pk])
        return format_html('<a class="deletelink" href="{}">{}</a>', url, ACCOUNT_DELETE_LABEL)

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        # Every ticket field is read-only here: the only change is a reply, through the service.
        body = (form.cleaned_data.get("reply") or "").strip()
        if change and body:
            services.ticket_staff_reply(
                ticket=obj,
                staff=_staff(request),
                body=body,
                now=timezone.now(),
            )
            self.message_user(
                request,
                gettext("Your reply was sent to %(email)s.") % {"email": obj.user.email},
                messages.SUCCESS,
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not InternalNote:
            super().save_formset(request, form, formset, change)
            return
        internal_notes_save(request, formset, customer=form.instance.user, ticket=form.instance)

    @admin.action(description=_("Close the selected tickets"))
    def close_tickets(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        now = timezone.now()
        for ticket in queryset:
            services.ticket_close(ticket=ticket, user=_staff(request), now=now)

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<path:object_id>/account-delete/",
                self.admin_site.admin_view(superuser_reauthenticated(self.account_delete_view)),
                name="support_ticket_account_delete",
            )
        ]
        return custom + super().get_urls()

    def account_delete_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm, then delete the customer's account (001: a ticket may ask for it)."""
        ticket = self.get_object(request, unquote(object_id))
        if ticket is None or ticket.category != Category.ACCOUNT_DELETION:
            raise Http404
        if not (self.has_change_permission(request, ticket) and request.user.is_superuser):
            raise PermissionDenied
        change_url = reverse("admin:support_ticket_change", args=[ticket.pk])
        if request.method == "POST":
            privacy = _privacy_services()
            if privacy is None:
                self.message_user(
                    request, gettext("Account deletion is not available yet."), messages.ERROR
                )
                return HttpResponseRedirect(change_url)
            email = ticket.user.email
            refused = getattr(privacy, "PrivacyError", ())
            try:
                deleted = privacy.account_delete(
                    user=ticket.user, actor=request.user, now=timezone.now()
                )
            except refused as exc:
                self.message_user(request, str(exc.message), messages.ERROR)
                return HttpResponseRedirect(change_url)
            if Ticket.objects.filter(pk=ticket.pk).exists():
                services.ticket_close(ticket=ticket, user=_staff(request), now=timezone.now())
            if deleted is False:
                text = gettext("This account was already deleted.")
                self.message_user(request, text, messages.WARNING)
            else:
                text = gettext("The account of %(email)s has been deleted.") % {"email": email}
                self.message_user(request, text, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:support_ticket_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "ticket": ticket,
            "customer": ticket.user,
            "change_url": change_url,
            "title": ACCOUNT_DELETE_LABEL,
            "retention_years": getattr(_privacy_services(), "INVOICE_RETENTION_YEARS", None),
        }
        return TemplateResponse(request, "admin/account_delete_confirm.html", context)
