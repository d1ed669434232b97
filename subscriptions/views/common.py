"""What several pages share: the visitor's currency, the customer's live subscription, a
refund quote in a sentence."""

from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils import translation

from accounts.http import AuthenticatedHttpRequest
from subscriptions import policy, selectors, wording
from subscriptions.models import Currency, Subscription
from subscriptions.services.errors import SubscriptionConflict

# The visitor's currency by language (fr and en both sell in euros), until they choose another.
DEFAULT_CURRENCY = {"fr": Currency.EUR, "en": Currency.EUR}


def visitor_currency(request: HttpRequest) -> str:
    chosen = request.GET.get("currency", "").upper()
    if chosen in Currency.values:
        request.session["currency"] = chosen
        return chosen
    remembered = request.session.get("currency")
    if remembered in Currency.values:
        return str(remembered)
    return DEFAULT_CURRENCY.get(translation.get_language() or "fr", Currency.EUR)


def live_subscription(request: AuthenticatedHttpRequest) -> Subscription:
    subscription = selectors.subscription_live(user=request.user)
    if subscription is None:
        raise Http404
    return subscription


def refund_sentence(request: AuthenticatedHttpRequest, quote: policy.RefundQuote | None) -> str:
    if quote is None or quote.rule == "none":
        return ""
    return wording.explain(
        quote,
        translation.get_language() or "fr",
        tz=request.user.time_zone,
    )


def conflict(request: HttpRequest, exc: SubscriptionConflict) -> TemplateResponse:
    """409: a second click or another tab confirmed the same thing first; the page says what
    stands, and offers nothing to confirm again."""
    return TemplateResponse(
        request, "subscriptions/subscription_conflict.html", {"message": exc.message}, status=409
    )
