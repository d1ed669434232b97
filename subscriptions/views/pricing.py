"""The public pricing page, in the visitor's currency."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import translation

from portal import pagecache
from subscriptions import selectors
from subscriptions.models import Currency
from subscriptions.views.common import visitor_currency


@login_not_required
def pricing(request: HttpRequest) -> HttpResponse:
    currency = visitor_currency(request)
    table = selectors.pricing_catalog(currency=currency)
    language = translation.get_language() or "fr"
    offered = set(Currency.values)
    chosen = request.GET.getlist("currency")
    if set(request.GET) - {"currency"} or len(chosen) > 1 or not set(chosen) <= offered:
        return _pricing_page(request, currency, table, {})  # not one of the few cached pages
    # The same page for every visitor not signed in, per catalog reading, currency and path
    # (the path names the language and the currency asked for, if one of those offered: a
    # visitor cannot fill the cache with pages of their own making).
    key = f"pricing-page:{table.version}:{currency}:{language}:{request.get_full_path()}"
    return pagecache.for_visitors(
        request,
        key=key,
        seconds=selectors.PRICING_CACHE_SECONDS,
        render=lambda extra: _pricing_page(request, currency, table, extra),
    )


def _pricing_page(
    request: HttpRequest, currency: str, table: selectors.PricingTable, extra: dict[str, str]
) -> TemplateResponse:
    guarantee_used = selectors.guarantee_used_plan_ids(user=request.user)  # type: ignore[arg-type]
    # A customer with a live subscription changes plan from it, not with a new trial.
    subscribed = (
        request.user.is_authenticated and selectors.subscription_live(user=request.user) is not None
    )
    context = {
        "rows": table.rows,
        "currency": currency,
        "currencies": Currency.values,
        "guarantee_used": guarantee_used,
        "subscribed": subscribed,
        # The plans' HTML is cached per reading of the catalog, currency and language, and
        # per what differs between visitors: signed in, subscribed, guarantees used.
        "plans_cache_key": "-".join(
            [
                table.version,
                currency,
                "subscribed" if subscribed else str(request.user.is_authenticated),
                *map(str, sorted(guarantee_used)),
            ]
        ),
        "plans_cache_seconds": selectors.PRICING_CACHE_SECONDS,
        **extra,
    }
    return TemplateResponse(request, "subscriptions/pricing.html", context)
