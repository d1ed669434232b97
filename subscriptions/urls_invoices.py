"""Included by subscriptions/urls.py under "account/invoices/", in the subscriptions namespace."""

from django.urls import path

from subscriptions import views_invoices

urlpatterns = [
    path("", views_invoices.invoice_list, name="invoices"),
    path("<str:number>/", views_invoices.invoice_detail, name="invoice_detail"),
    path("<str:number>/pdf/", views_invoices.invoice_pdf, name="invoice_pdf"),
]
