"""Included by subscriptions/urls.py under "account/invoices/", in the subscriptions namespace."""

from django.urls import path

import portal.converters  # noqa: F401 - registers the tight path converters
from subscriptions import views_invoices

urlpatterns = [
    path("", views_invoices.invoice_list, name="invoices"),
    path("<invoice_number:number>/", views_invoices.invoice_detail, name="invoice_detail"),
    path("<invoice_number:number>/pdf/", views_invoices.invoice_pdf, name="invoice_pdf"),
    path(
        "<credit_note_number:number>/",
        views_invoices.credit_note_detail,
        name="credit_note_detail",
    ),
    path(
        "<credit_note_number:number>/pdf/",
        views_invoices.credit_note_pdf,
        name="credit_note_pdf",
    ),
]
