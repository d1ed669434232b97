from django.urls import include, path

import portal.converters  # noqa: F401 - registers the tight path converters
from subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.pricing, name="pricing"),
    path("account/subscription/", views.subscription_detail, name="detail"),
    path("account/trial/<slug:plan_code>/", views.trial_start, name="trial_start"),
    path("account/subscribe/<int:price_id>/", views.subscribe, name="subscribe"),
    path("account/card/", views.card_update, name="card_update"),
    path("account/invoices/<invoice_number:number>/pay/", views.invoice_pay, name="invoice_pay"),
    path("account/invoices/", include("subscriptions.urls_invoices")),
    path("account/cancel/", views.cancel, name="cancel"),
    path("account/cancel/confirm/", views.cancel_confirm, name="cancel_confirm"),
    path("account/cancel/undo/", views.cancel_undo, name="cancel_undo"),
    path("account/subscription/change/<int:price_id>/", views.plan_change, name="plan_change"),
    path(
        "account/subscription/change/withdraw/",
        views.plan_change_withdraw,
        name="plan_change_withdraw",
    ),
    path(
        "account/subscription/change-request/",
        views.change_request_new,
        name="change_request_new",
    ),
    path(
        "account/subscription/change-request/<int:pk>/withdraw/",
        views.change_request_withdraw,
        name="change_request_withdraw",
    ),
    path(
        "account/invoices/<invoice_number:number>/refund/",
        views.refund_request,
        name="refund_request",
    ),
    path("account/refunds/", views.refund_list, name="refunds"),
]
