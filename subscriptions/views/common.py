"""What several pages share: the visitor's currency, the customer's live subscription, a
refund quote in a sentence."""

from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils import translation

from accounts.http import AuthenticatedHttpRequest
from subscriptions import money, policy, selectors, wording
from subscriptions.models import Currency, Subscription, SubscriptionStatus
from subscriptions.services.errors import SubscriptionConflict

# The visitor's currency by language (fr and en both sell in euros), until they choose another.
DEFAULT_CURRENCY = {"fr": Currency.EUR, "en": Currency.EUR}


def visitor_currency(request: HttpRequest) -> str:
    """The currency prices are shown in: the one chosen (?currency=, then remembered), else
    the customer's country ("GB" -> GBP), else the browser's region ("en-US" -> USD), else
    the language's."""
    chosen = request.GET.get("currency", "").upper()
    if chosen in Currency.values:
        request.session["currency"] = chosen
        return chosen
    remembered = request.session.get("currency")
    if remembered in Currency.values:
        return str(remembered)
    user = getattr(request, "user", None)
    country = getattr(user, "country", "") if user is not None and user.is_authenticated else ""
    return (
        money.currency_for_country(country, Currency.values)
        or money.currency_for_accept_language(
            request.headers.get("accept-language", ""), Currency.values
        )
        or DEFAULT_CURRENCY.get(translation.get_language() or "fr", Currency.EUR)
    )


def currency_locked(subscription: Subscription | None) -> bool:
    """A subscription keeps the currency it was bought in: once its first invoice is issued
    (active, overdue, suspended), every change and renewal stays in it. Before that (a trial,
    a first payment not yet made, an ended subscription) the customer chooses."""
    return subscription is not None and subscription.status in (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.SUSPENDED,
    )


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
