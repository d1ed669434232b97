from django.urls import include, path

import portal.converters  # noqa: F401 - registers the tight path converters
from subscriptions.views import (
    cancellation,
    changes,
    checkout,
    pricing,
    refunds,
    subscription,
)

app_name = "subscriptions"

urlpatterns = [
    path("", pricing.pricing, name="pricing"),
    path("account/subscription/", subscription.subscription_detail, name="detail"),
    path("account/trial/<slug:plan_code>/", checkout.trial_start, name="trial_start"),
    path("account/subscribe/<int:price_id>/", checkout.subscribe, name="subscribe"),
    path("account/card/", checkout.card_update, name="card_update"),
    path("account/invoices/<invoice_number:number>/pay/", checkout.invoice_pay, name="invoice_pay"),
    path("account/invoices/", include("subscriptions.urls_invoices")),
    path("account/cancel/", cancellation.cancel, name="cancel"),
    path("account/cancel/confirm/", cancellation.cancel_confirm, name="cancel_confirm"),
    path("account/cancel/undo/", cancellation.cancel_undo, name="cancel_undo"),
    path("account/subscription/change/<int:price_id>/", changes.plan_change, name="plan_change"),
    path(
        "account/subscription/change/withdraw/",
        changes.plan_change_withdraw,
        name="plan_change_withdraw",
    ),
    path(
        "account/subscription/change-request/",
        changes.change_request_new,
        name="change_request_new",
    ),
    path(
        "account/subscription/change-request/<int:pk>/withdraw/",
        changes.change_request_withdraw,
        name="change_request_withdraw",
    ),
    path(
        "account/invoices/<invoice_number:number>/refund/",
        refunds.refund_request,
        name="refund_request",
    ),
    path("account/refunds/", refunds.refund_list, name="refunds"),
]
