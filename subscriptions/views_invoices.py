"""The customer's invoices: list, detail page and PDF download (only their own: 404 otherwise)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from subscriptions import invoices


@require_safe
def invoice_list(request: HttpRequest) -> TemplateResponse:
    context = {"invoices": invoices.invoice_list_for_user(user=request.user)}  # type: ignore[arg-type]
    return TemplateResponse(request, "subscriptions/invoice_list.html", context)


@require_safe
def invoice_detail(request: HttpRequest, number: str) -> TemplateResponse:
    invoice = get_object_or_404(
        invoices.invoice_detail_queryset(user=request.user),  # type: ignore[arg-type]
        number=number,
    )
    return TemplateResponse(
        request, "subscriptions/invoice_detail.html", invoices.invoice_context(invoice)
    )


@require_safe
@cache_control(private=True)
def invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    invoice = get_object_or_404(
        invoices.invoice_detail_queryset(user=request.user),  # type: ignore[arg-type]
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
