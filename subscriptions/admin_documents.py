"""Staff and the documents: download any invoice or credit note, read credit notes, and export
a date range for the accountant. Kept apart from admin.py so the back office can change."""

from datetime import date

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from accounts.http import AuthenticatedHttpRequest
from subscriptions import invoices as documents
from subscriptions.models import (
    AccountingExport,
    AccountingExportStatus,
    CreditNote,
    CreditNoteLine,
    Invoice,
)
from subscriptions.services.accounting_exports import accounting_export_request
from subscriptions.services.errors import SubscriptionError

RECENT_EXPORTS = 10


class DocumentPdfLinkMixin:
    """One read-only field on a change page: the PDF, as the customer gets it."""

    @admin.display(description=_("PDF"))
    def pdf_link(self, obj: Invoice | CreditNote) -> str:
        if obj.pk is None:
            return ""
        name = "credit_note_pdf" if obj.is_credit_note else "invoice_pdf"
        url = reverse(f"admin_documents:{name}", args=[obj.number])
        return format_html('<a href="{}" download>{}</a>', url, _("Download the PDF"))


class CreditNoteLineInline(admin.TabularInline):
    model = CreditNoteLine
    extra = 0
    can_delete = False
    fields = readonly_fields = ("description", "amount", "period_start", "period_end")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CreditNote)
class CreditNoteAdmin(DocumentPdfLinkMixin, admin.ModelAdmin):
    list_display = ["number", "invoice", "user", "reason", "total", "currency", "issued_at"]
    list_filter = ["reason", "currency", "issued_at"]
    search_fields = ["number", "invoice__number", "user__email"]
    list_select_related = ["invoice", "user"]
    date_hierarchy = "issued_at"
    readonly_fields = ["pdf_link", *[f.name for f in CreditNote._meta.fields]]
    inlines = [CreditNoteLineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # kept as issued (legal retention)


def _document(kind: str, number: str) -> Invoice | CreditNote:
    if kind == "invoice":
        return get_object_or_404(Invoice.objects.prefetch_related("lines"), number=number)
    if kind == "credit-note":
        return get_object_or_404(
            CreditNote.objects.select_related("invoice").prefetch_related("lines"),
            number=number,
        )
    raise Http404


@require_safe
@staff_member_required
def document_pdf(request: HttpRequest, kind: str, number: str) -> HttpResponse:
    """Any invoice or credit note, in the language it was issued in."""
    if not request.user.has_perm("subscriptions.view_invoice"):
        raise PermissionDenied
    document = _document(kind, number)
    return HttpResponse(
        documents.document_pdf(document),
        content_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition_header(
                as_attachment=True, filename=documents.invoice_pdf_filename(document)
            )
        },
    )


def _date(value: str) -> date | None:
    try:
        return parse_date(value.strip())
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
@staff_member_required
def accounting_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The export form and the recent exports; with htmx, only their progress block."""
    if not request.user.has_perm("subscriptions.view_invoice"):
        raise PermissionDenied
    if request.method == "POST":
        try:
            accounting_export_request(
                actor=request.user,
                start=_date(request.POST.get("start", "")),
                end=_date(request.POST.get("end", "")),
                now=timezone.now(),
            )
        except SubscriptionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The export has started."))
        return redirect("admin_documents:accounting_export")
    exports = list(AccountingExport.objects.all()[:RECENT_EXPORTS])
    context = {
        **admin.site.each_context(request),
        "title": _("Accounting export"),
        "exports": exports,
        "pending": any(export.is_pending for export in exports),
    }
    template = (
        "subscriptions/admin_accounting_export.html#exports"
        if request.htmx
        else "subscriptions/admin_accounting_export.html"
    )
    response = TemplateResponse(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_safe
@staff_member_required
def accounting_export_download(request: HttpRequest, pk: int) -> FileResponse:
    if not request.user.has_perm("subscriptions.view_invoice"):
        raise PermissionDenied
    export = get_object_or_404(AccountingExport, pk=pk, status=AccountingExportStatus.READY)
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=export.download_name,
        content_type="application/zip",
    )
