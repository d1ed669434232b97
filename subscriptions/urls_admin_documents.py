"""Staff pages for documents, mounted under admin/documents/ (portal/urls.py)."""

from django.urls import path

import portal.converters  # noqa: F401 - registers the tight path converters
from subscriptions import admin_documents

app_name = "admin_documents"

urlpatterns = [
    path(
        "invoice/<invoice_number:number>/pdf/",
        admin_documents.document_pdf,
        {"kind": "invoice"},
        name="invoice_pdf",
    ),
    path(
        "credit-note/<credit_note_number:number>/pdf/",
        admin_documents.document_pdf,
        {"kind": "credit-note"},
        name="credit_note_pdf",
    ),
    path("accounting-export/", admin_documents.accounting_export, name="accounting_export"),
    path(
        "accounting-export/<int:pk>/",
        admin_documents.accounting_export_download,
        name="accounting_export_download",
    ),
]
