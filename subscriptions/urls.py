from django.urls import path

from subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.pricing, name="pricing"),
    path("account/subscription/", views.subscription_detail, name="detail"),
    path("account/invoices/", views.invoice_list, name="invoices"),
    path("account/cancel/", views.cancel, name="cancel"),
]
