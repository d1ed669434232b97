from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import translation

from subscriptions import selectors
from subscriptions.models import Currency

# The visitor's currency by language (fr and en both sell in euros), until they choose another.
DEFAULT_CURRENCY = {"fr": Currency.EUR, "en": Currency.EUR}


def _currency(request: HttpRequest) -> str:
    chosen = request.GET.get("currency", "").upper()
    if chosen in Currency.values:
        request.session["currency"] = chosen
        return chosen
    remembered = request.session.get("currency")
    if remembered in Currency.values:
        return str(remembered)
    return DEFAULT_CURRENCY.get(translation.get_language() or "fr", Currency.EUR)


@login_not_required
def pricing(request: HttpRequest) -> TemplateResponse:
    currency = _currency(request)
    context = {
        "rows": selectors.pricing_table(currency=currency),
        "currency": currency,
        "currencies": Currency.values,
    }
    return TemplateResponse(request, "subscriptions/pricing.html", context)


def subscription_detail(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "subscriptions/subscription_detail.html", {})


def invoice_list(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "subscriptions/invoice_list.html", {})


def cancel(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "subscriptions/cancel_start.html", {})
