"""The public pricing page, in the visitor's currency."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest
from django.template.response import TemplateResponse

from subscriptions import selectors
from subscriptions.models import Currency
from subscriptions.views.common import visitor_currency


@login_not_required
def pricing(request: HttpRequest) -> TemplateResponse:
    currency = visitor_currency(request)
    context = {
        "rows": selectors.pricing_table(currency=currency),
        "currency": currency,
        "currencies": Currency.values,
        "guarantee_used": selectors.guarantee_used_plan_ids(user=request.user),  # type: ignore[arg-type]
        # A customer with a live subscription changes plan from it, not with a new trial.
        "subscribed": request.user.is_authenticated
        and selectors.subscription_live(user=request.user) is not None,
    }
    return TemplateResponse(request, "subscriptions/pricing.html", context)
