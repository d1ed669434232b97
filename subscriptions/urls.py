from django.urls import include, path

from subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.pricing, name="pricing"),
    path("account/subscription/", views.subscription_detail, name="detail"),
    path("account/trial/<slug:plan_code>/", views.trial_start, name="trial_start"),
    path("account/subscribe/<int:price_id>/", views.subscribe, name="subscribe"),
    path("account/card/", views.card_update, name="card_update"),
    path("account/invoices/<str:number>/pay/", views.invoice_pay, name="invoice_pay"),
    path("account/invoices/", include("subscriptions.urls_invoices")),
    path("account/cancel/", views.cancel, name="cancel"),
]
