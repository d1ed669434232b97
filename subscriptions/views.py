"""Thin views: parse, call a service or a selector, render. Every object is looked up from
the logged-in customer, so another customer's subscription or invoice is a 404."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from subscriptions import selectors, services
from subscriptions.models import (
    AttemptStatus,
    Currency,
    InvoiceStatus,
    Plan,
    Price,
    SubscriptionStatus,
)

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
    user = request.user
    subscription = selectors.subscription_current(user=user)  # type: ignore[arg-type]
    now = timezone.now()
    currency = subscription.currency if subscription else _currency(request)
    context = {
        "subscription": subscription,
        "billing": selectors.billing_account(user=user),  # type: ignore[arg-type]
        "days_left": selectors.trial_days_left(subscription, now=now) if subscription else 0,
        "rows": selectors.pricing_table(currency=currency),
        "open_invoices": list(selectors.invoices_open(user=user)),  # type: ignore[arg-type]
    }
    return TemplateResponse(request, "subscriptions/subscription_detail.html", context)


@require_http_methods(["GET", "POST"])
def trial_start(request: HttpRequest, plan_code: str) -> HttpResponse:
    plan = get_object_or_404(Plan, code=plan_code, is_active=True)
    if request.method == "POST":
        try:
            services.trial_start(user=request.user, plan=plan, now=timezone.now())  # type: ignore[arg-type]
        except services.SubscriptionError as exc:
            messages.error(request, exc.message)
            return TemplateResponse(
                request, "subscriptions/trial_start.html", {"plan": plan}, status=400
            )
        messages.success(request, _("Your 15-day free trial has started."))
        return redirect("subscriptions:detail")
    return TemplateResponse(request, "subscriptions/trial_start.html", {"plan": plan})


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, price_id: int) -> HttpResponse:
    price = get_object_or_404(
        Price.objects.select_related("plan"), pk=price_id, is_active=True, plan__is_active=True
    )
    user = request.user
    now = timezone.now()
    error = ""
    if request.method == "POST":
        try:
            setup_intent = request.POST.get("setup_intent", "").strip()
            if setup_intent:
                services.card_save(user=user, setup_intent_id=setup_intent)  # type: ignore[arg-type]
            subscription = services.subscribe(user=user, price=price, now=now)  # type: ignore[arg-type]
        except services.SubscriptionError as exc:
            error = exc.message
        else:
            open_invoice = subscription.invoices.filter(status=InvoiceStatus.OPEN).first()
            if open_invoice is not None:  # the bank asks for an authentication
                return redirect("subscriptions:invoice_pay", number=open_invoice.number)
            if subscription.status == SubscriptionStatus.TRIALING:
                messages.success(
                    request, _("Your plan is chosen: billing starts when your trial ends.")
                )
            else:
                messages.success(request, _("Thank you: your subscription is active."))
            return redirect("subscriptions:detail")
    return _card_page(
        request,
        "subscriptions/subscribe.html",
        {"price": price, "quote": services.checkout_quote(user=user, price=price, now=now)},  # type: ignore[arg-type]
        error=error,
    )


def _card_page(
    request: HttpRequest,
    template: str,
    context: dict[str, object],
    *,
    error: str = "",
    new_card: bool = False,
) -> TemplateResponse:
    """A page with Stripe.js card entry: a fresh SetupIntent whenever a card is to be typed
    (no saved card, the last one was declined, or the customer replaces it)."""
    billing = selectors.billing_account(user=request.user)  # type: ignore[arg-type]
    client_secret = ""
    if new_card or error or billing is None or not billing.has_card:
        try:
            client_secret = services.card_setup_start(user=request.user)  # type: ignore[arg-type]
        except services.SubscriptionError as exc:
            error = error or exc.message
    context = {
        **context,
        "billing": billing,
        "client_secret": client_secret,
        "error": error,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    }
    return TemplateResponse(request, template, context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
def card_update(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            services.card_save(
                user=request.user,  # type: ignore[arg-type]
                setup_intent_id=request.POST.get("setup_intent", "").strip(),
            )
        except services.SubscriptionError as exc:
            error = exc.message
        else:
            messages.success(request, _("Your new card is saved."))
            open_invoice = selectors.invoices_open(user=request.user).first()  # type: ignore[arg-type]
            if open_invoice is not None:
                return redirect("subscriptions:invoice_pay", number=open_invoice.number)
            return redirect("subscriptions:detail")
    return _card_page(request, "subscriptions/card_update.html", {}, error=error, new_card=True)


@require_http_methods(["GET", "POST"])
def invoice_pay(request: HttpRequest, number: str) -> HttpResponse:
    """Pay an open invoice now with the saved card, or complete a bank authentication."""
    invoice = selectors.invoice_for_user(user=request.user, number=number)  # type: ignore[arg-type]
    if invoice is None:
        raise Http404
    attempt = invoice.attempts.order_by("-number").first()
    needs_authentication = (
        invoice.status == InvoiceStatus.OPEN
        and attempt is not None
        and attempt.status == AttemptStatus.REQUIRES_ACTION
    )
    error = ""
    if request.method == "POST" and invoice.status == InvoiceStatus.OPEN:
        now = timezone.now()
        try:
            if request.POST.get("action") == "authenticated" and attempt and needs_authentication:
                services.payment_intent_sync(payment_intent_id=attempt.payment_intent_id, now=now)
            else:
                services.invoice_pay_now(user=request.user, invoice=invoice, now=now)  # type: ignore[arg-type]
        except services.SubscriptionError as exc:
            error = exc.message
        except services.gateway.GatewayError as exc:
            error = exc.message
        invoice.refresh_from_db()
        if invoice.status == InvoiceStatus.PAID:
            messages.success(request, _("Thank you: your payment was received."))
            return redirect("subscriptions:detail")
        attempt = invoice.attempts.order_by("-number").first()
        needs_authentication = attempt is not None and (
            attempt.status == AttemptStatus.REQUIRES_ACTION
        )
        if not error and not needs_authentication:
            error = _("Your payment did not go through.")
    context = {
        "invoice": invoice,
        "attempt": attempt,
        "needs_authentication": needs_authentication,
        "billing": selectors.billing_account(user=request.user),  # type: ignore[arg-type]
        "error": error,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    }
    return TemplateResponse(
        request, "subscriptions/invoice_pay.html", context, status=400 if error else 200
    )


def cancel(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "subscriptions/cancel_start.html", {})
