"""The customer's invoices and credit notes: list, detail page and PDF download (only their
own: 404 otherwise)."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from accounts.http import AuthenticatedHttpRequest
from portal.pagination import page_of
from subscriptions import invoices


@require_safe
def invoice_list(request: AuthenticatedHttpRequest) -> TemplateResponse:
    page = page_of(request, invoices.invoice_list_for_user(user=request.user))
    context = {"invoices": invoices.documents_of_page(page), "page": page}
    return TemplateResponse(request, "subscriptions/invoice_list.html", context)


@require_safe
def invoice_detail(request: AuthenticatedHttpRequest, number: str) -> TemplateResponse:
    invoice = get_object_or_404(
        invoices.invoice_detail_queryset(user=request.user),
        number=number,
    )
    return TemplateResponse(
        request, "subscriptions/invoice_detail.html", invoices.invoice_context(invoice)
    )


@require_safe
@cache_control(private=True)
def invoice_pdf(request: AuthenticatedHttpRequest, number: str) -> HttpResponse:
    invoice = get_object_or_404(
        invoices.invoice_detail_queryset(user=request.user),
        number=number,
    )
    return HttpResponse(
        invoices.invoice_pdf(invoice, request=request),
        content_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition_header(
                as_attachment=True, filename=invoices.invoice_pdf_filename(invoice)
            )
        },
    )


@require_safe
def credit_note_detail(request: AuthenticatedHttpRequest, number: str) -> TemplateResponse:
    note = get_object_or_404(invoices.credit_note_detail_queryset(user=request.user), number=number)
    return TemplateResponse(
        request, "subscriptions/invoice_detail.html", invoices.invoice_context(note)
    )


@require_safe
@cache_control(private=True)
def credit_note_pdf(request: AuthenticatedHttpRequest, number: str) -> HttpResponse:
    note = get_object_or_404(invoices.credit_note_detail_queryset(user=request.user), number=number)
    return HttpResponse(
        invoices.invoice_pdf(note, request=request),
        content_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition_header(
                as_attachment=True, filename=invoices.invoice_pdf_filename(note)
            )
        },
    )
