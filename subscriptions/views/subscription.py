"""The customer's subscription page: status, plans to change to, open invoices."""

from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.http import AuthenticatedHttpRequest
from subscriptions import selectors
from subscriptions.models import Currency, SubscriptionStatus
from subscriptions.services.cancellation import refund_to_charge_back
from subscriptions.views.common import currency_locked, visitor_currency


def subscription_detail(request: AuthenticatedHttpRequest) -> TemplateResponse:
    user = request.user
    subscription = selectors.subscription_current(user=user)
    now = timezone.now()
    locked = currency_locked(subscription)
    currency = subscription.currency if subscription and locked else visitor_currency(request)
    billing = selectors.billing_account(user=user)
    rows = selectors.pricing_table(currency=currency)
    context = {
        "subscription": subscription,
        "billing": billing,
        "next_charge": selectors.next_charge(subscription, billing=billing),
        "days_left": selectors.trial_days_left(subscription, now=now) if subscription else 0,
        "rows": rows,
        "currency": currency,
        "currencies": [] if locked else Currency.values,
        "open_invoices": list(selectors.invoices_open(user=user)),
        # Active: the currency is locked, so `rows` is the subscription's currency.
        "change_options": selectors.plan_change_options(rows, subscription=subscription)
        if subscription is not None
        and subscription.status == SubscriptionStatus.ACTIVE
        and subscription.cancel_at is None
        and subscription.scheduled_price_id is None
        else [],
        "pending_changes": list(selectors.change_requests_pending(subscription=subscription))
        if subscription is not None
        else [],
        "charge_back": refund_to_charge_back(subscription)
        if subscription is not None and subscription.cancel_at
        else None,
    }
    return TemplateResponse(request, "subscriptions/subscription_detail.html", context)
