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
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from subscriptions import policy, quotes, selectors, wording
from subscriptions.models import (
    AttemptStatus,
    ContractChangeRequest,
    Currency,
    InvoiceStatus,
    Plan,
    Price,
    RefundReason,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services import checkout, contract_changes, plan_changes, trials
from subscriptions.services.cancellation import (
    CancellationQuote,
    cancellation_confirm,
    cancellation_quote,
    cancellation_undo,
    refund_to_charge_back,
)
from subscriptions.services.cards import card_save, card_setup_start
from subscriptions.services.checkout import checkout_quote
from subscriptions.services.contract_changes import change_request_create
from subscriptions.services.errors import GatewayError, SubscriptionError
from subscriptions.services.payments import invoice_pay_now, payment_intent_sync
from subscriptions.services.plan_changes import (
    plan_change_options,
    plan_change_quote_for,
    quote_token,
)
from subscriptions.services.refund_quotes import (
    PaymentsRefund,
    cancellation_refunds,
    existing_request,
    payments_refund,
    total,
)
from subscriptions.services.refunds import refund_requests_create

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
        "guarantee_used": selectors.guarantee_used_plan_ids(user=request.user),  # type: ignore[arg-type]
        # A customer with a live subscription changes plan from it, not with a new trial.
        "subscribed": request.user.is_authenticated
        and selectors.subscription_live(user=request.user) is not None,
    }
    return TemplateResponse(request, "subscriptions/pricing.html", context)


def subscription_detail(request: AuthenticatedHttpRequest) -> TemplateResponse:
    user = request.user
    subscription = selectors.subscription_current(user=user)
    now = timezone.now()
    currency = subscription.currency if subscription else _currency(request)
    context = {
        "subscription": subscription,
        "billing": selectors.billing_account(user=user),
        "days_left": selectors.trial_days_left(subscription, now=now) if subscription else 0,
        "rows": selectors.pricing_table(currency=currency),
        "open_invoices": list(selectors.invoices_open(user=user)),
        "change_options": plan_change_options(subscription=subscription)
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


@require_http_methods(["GET", "POST"])
def trial_start(request: AuthenticatedHttpRequest, plan_code: str) -> HttpResponse:
    plan = get_object_or_404(Plan, code=plan_code, is_active=True)
    if request.method == "POST":
        try:
            trials.trial_start(user=request.user, plan=plan, now=timezone.now())
        except SubscriptionError as exc:
            messages.error(request, exc.message)
            return TemplateResponse(
                request, "subscriptions/trial_start.html", {"plan": plan}, status=400
            )
        messages.success(request, _("Your 15-day free trial has started."))
        return redirect("subscriptions:detail")
    return TemplateResponse(request, "subscriptions/trial_start.html", {"plan": plan})


@require_http_methods(["GET", "POST"])
def subscribe(request: AuthenticatedHttpRequest, price_id: int) -> HttpResponse:
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
                card_save(user=user, setup_intent_id=setup_intent)
            subscription = checkout.subscribe(user=user, price=price, now=now)
        except SubscriptionError as exc:
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
    context = {
        "price": price,
        "quote": checkout_quote(user=user, price=price, now=now),
        "guarantee_used": price.plan_id in selectors.guarantee_used_plan_ids(user=user),
    }
    return _card_page(request, "subscriptions/subscribe.html", context, error=error)


def _card_page(
    request: AuthenticatedHttpRequest,
    template: str,
    context: dict[str, object],
    *,
    error: str = "",
    new_card: bool = False,
) -> TemplateResponse:
    """A page with Stripe.js card entry: a fresh SetupIntent whenever a card is to be typed
    (no saved card, the last one was declined, or the customer replaces it)."""
    billing = selectors.billing_account(user=request.user)
    client_secret = ""
    if new_card or error or billing is None or not billing.has_card:
        try:
            client_secret = card_setup_start(user=request.user)
        except SubscriptionError as exc:
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
def card_update(request: AuthenticatedHttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            card_save(
                user=request.user,
                setup_intent_id=request.POST.get("setup_intent", "").strip(),
            )
        except SubscriptionError as exc:
            error = exc.message
        else:
            messages.success(request, _("Your new card is saved."))
            open_invoice = selectors.invoices_open(user=request.user).first()
            if open_invoice is not None:
                return redirect("subscriptions:invoice_pay", number=open_invoice.number)
            return redirect("subscriptions:detail")
    return _card_page(request, "subscriptions/card_update.html", {}, error=error, new_card=True)


@require_http_methods(["GET", "POST"])
def invoice_pay(request: AuthenticatedHttpRequest, number: str) -> HttpResponse:
    """Pay an open invoice now with the saved card, or complete a bank authentication."""
    invoice = selectors.invoice_for_user(user=request.user, number=number)
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
                payment_intent_sync(payment_intent_id=attempt.payment_intent_id, now=now)
            else:
                invoice_pay_now(user=request.user, invoice=invoice, now=now)
        except SubscriptionError as exc:
            error = exc.message
        except GatewayError as exc:
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
        "billing": selectors.billing_account(user=request.user),
        "error": error,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    }
    return TemplateResponse(
        request, "subscriptions/invoice_pay.html", context, status=400 if error else 200
    )


# --- changing plan (000, 001, 004) -----------------------------------------------------------


def _live_subscription(request: AuthenticatedHttpRequest) -> Subscription:
    subscription = selectors.subscription_live(user=request.user)
    if subscription is None:
        raise Http404
    return subscription


@require_http_methods(["GET", "POST"])
def plan_change(request: AuthenticatedHttpRequest, price_id: int) -> HttpResponse:
    """The quote in place (htmx partial) or as a page, then the confirmation."""
    subscription = _live_subscription(request)
    target = get_object_or_404(
        Price.objects.select_related("plan"),
        pk=price_id,
        is_active=True,
        plan__is_active=True,
        currency=subscription.currency,
    )
    now = timezone.now()
    error = ""
    if request.method == "POST":
        try:
            plan_changes.plan_change(
                user=request.user,
                subscription=subscription,
                target=target,
                token=request.POST.get("quote", ""),
                now=now,
            )
        except SubscriptionError as exc:
            error = exc.message
        else:
            subscription.refresh_from_db()
            if subscription.scheduled_price_id == target.pk:
                messages.success(request, _("Your change is scheduled for your next period."))
            else:
                messages.success(
                    request,
                    _("You are now on %(plan)s.") % {"plan": target.plan.name},
                )
            return redirect("subscriptions:detail")
    try:
        quote = plan_change_quote_for(subscription=subscription, target=target, now=now)
    except SubscriptionError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:detail")
    context = {
        "subscription": subscription,
        "target": target,
        "quote": quote,
        "explanation": wording.explain(
            quote,
            translation.get_language() or "fr",
            tz=request.user.time_zone,
        ),
        "token": quote_token(subscription=subscription, target=target, quoted_at=now),
        "error": error,
    }
    template = "subscriptions/plan_change.html"
    if request.htmx and request.method == "GET":
        template += "#quote"
    return TemplateResponse(request, template, context, status=400 if error else 200)


@require_POST
def plan_change_withdraw(request: AuthenticatedHttpRequest) -> HttpResponse:
    plan_changes.plan_change_withdraw(
        user=request.user,
        subscription=_live_subscription(request),
    )
    messages.success(request, _("Your scheduled change is withdrawn."))
    return redirect("subscriptions:detail")


@require_http_methods(["GET", "POST"])
def change_request_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    subscription = _live_subscription(request)
    options = plan_change_options(subscription=subscription)
    error = ""
    if request.method == "POST":
        target = next((p for p in options if str(p.pk) == request.POST.get("target", "")), None)
        try:
            if target is None:
                raise SubscriptionError(_("Please choose another plan."))
            change_request_create(
                user=request.user,
                subscription=subscription,
                target=target,
                reason=request.POST.get("reason", "").replace("\x00", ""),
                message=request.POST.get("message", "").replace("\x00", ""),
            )
        except SubscriptionError as exc:
            error = exc.message
        else:
            messages.success(request, _("Your request is sent: our team will answer by e-mail."))
            return redirect("subscriptions:detail")
    context = {
        "subscription": subscription,
        "options": options,
        "error": error,
        "posted": request.POST,
    }
    return TemplateResponse(
        request, "subscriptions/change_request_form.html", context, status=400 if error else 200
    )


@require_POST
def change_request_withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(ContractChangeRequest, pk=pk, user=request.user)
    try:
        contract_changes.change_request_withdraw(user=request.user, change=change)
    except SubscriptionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your change request is withdrawn."))
    return redirect("subscriptions:detail")


# --- cancelling in three clicks (003; L215-1-1, D215-1 to D215-3) ---------------------------


@require_http_methods(["GET", "POST"])
def cancel(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Click 1 opens this form (prefilled); click 2, "Continue", shows the summary."""
    subscription = selectors.subscription_live(user=request.user)
    if subscription is None:
        return TemplateResponse(request, "subscriptions/cancel_start.html", {})
    now = timezone.now()
    quote = cancellation_quote(subscription=subscription, now=now)
    context = {
        "subscription": subscription,
        "quote": quote,
        "reason": request.POST.get("reason", "").replace("\x00", "")[:2000],
        "refund_explanation": _refund_sentence(request, quote.refund),
        "guarantee_explanation": _refund_sentence(request, quote.guarantee),
        "charge_back": refund_to_charge_back(subscription),
        "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS,
        "quote_token": quotes.token(
            what="cancel", pk=subscription.pk, quoted_at=now, shown=_cancel_summary(quote)
        ),
    }
    if subscription.cancel_at is not None:
        return TemplateResponse(request, "subscriptions/cancel_pending.html", context)
    template = (
        "subscriptions/cancel_summary.html"
        if request.method == "POST"
        else ("subscriptions/cancel_form.html")
    )
    return TemplateResponse(request, template, context)


def _cancel_summary(quote: CancellationQuote) -> str:
    guarantee = quote.guarantee.amount if quote.guarantee else None
    return quotes.summary(quote.ends_at, quote.refund.amount, guarantee)


def _refund_sentence(request: AuthenticatedHttpRequest, quote: policy.RefundQuote | None) -> str:
    if quote is None or quote.rule == "none":
        return ""
    return wording.explain(
        quote,
        translation.get_language() or "fr",
        tz=request.user.time_zone,
    )


@require_POST
def cancel_confirm(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Click 3: "Confirm my cancellation request" records it; the page and an e-mail say so."""
    subscription = selectors.subscription_live(user=request.user)
    if subscription is None:
        latest = selectors.subscription_current(user=request.user)
        if latest is None or latest.status != SubscriptionStatus.CANCELED:
            return redirect("subscriptions:cancel")  # which says there is nothing to cancel
        # Confirmed twice with the full refund (double click, second tab): already ended.
        messages.info(
            request, _("Your subscription has ended. Your data stays readable and exportable.")
        )
        return redirect("subscriptions:detail")
    now = timezone.now()
    try:
        shown = quotes.read(
            request.POST.get("quote", ""), what="cancel", pk=subscription.pk, now=now
        )
        full_refund = request.POST.get("full_refund") == "1"
        if subscription.cancel_at is None or full_refund:  # else confirmed twice: shown again
            then = cancellation_quote(subscription=subscription, now=shown.at)
            quotes.check(shown, _cancel_summary(then))
        sub, refunded = cancellation_confirm(
            user=request.user,
            subscription=subscription,
            reason=request.POST.get("reason", "").replace("\x00", ""),
            now=now,
            full_refund=full_refund,
            quoted_at=shown.at,
        )
    except SubscriptionError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:cancel")
    context = {
        "subscription": sub,
        "refund": total(refunded or cancellation_refunds(sub)),
        "charge_back": refund_to_charge_back(sub),
        "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS,
    }
    return TemplateResponse(request, "subscriptions/cancel_done.html", context)


@require_POST
def cancel_undo(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        cancellation_undo(
            user=request.user,
            subscription=_live_subscription(request),
            now=timezone.now(),
        )
    except SubscriptionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your subscription continues."))
    return redirect("subscriptions:detail")


# --- refunds (002, 004) -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def refund_request(request: AuthenticatedHttpRequest, number: str) -> HttpResponse:
    invoice = selectors.invoice_for_user(user=request.user, number=number)
    if invoice is None:
        raise Http404
    now = timezone.now()
    existing = existing_request(invoice)
    error = ""
    if request.method == "POST" and existing is None:
        try:
            shown = quotes.read(
                request.POST.get("quote", ""), what="refund", pk=invoice.pk, now=now
            )
            quotes.check(shown, _refund_summary(payments_refund(invoice=invoice, now=shown.at)))
            rows = refund_requests_create(
                user=request.user,
                invoice=invoice,
                reason=request.POST.get("reason", ""),
                details=request.POST.get("details", "").replace("\x00", ""),
                now=now,
                quoted_at=shown.at,
            )
        except SubscriptionError as exc:
            error = exc.message
        else:
            # The least advanced part says how far the refund is (one may wait for a retry).
            pending = [row for row in rows if row.status != RefundStatus.SUCCEEDED]
            refund = pending[0] if pending else rows[0]
            done = {"refund": refund, "total": total(rows), "invoice": invoice}
            return TemplateResponse(request, "subscriptions/refund_done.html", done)
    result = payments_refund(invoice=invoice, now=now)
    quote = result.quote
    context: dict[str, object] = {
        "invoice": invoice,
        "existing": existing,
        "quote": quote,
        "parts": result.parts if len(result.parts) > 1 else (),
        "holds_until": result.holds_until,
        "quote_token": quotes.token(
            what="refund", pk=invoice.pk, quoted_at=now, shown=_refund_summary(result)
        ),
        "explanation": _refund_sentence(request, quote)
        or wording.explain(quote, translation.get_language() or "fr"),
        "reasons": [
            (value, label)
            for value, label in RefundReason.choices
            if value not in (RefundReason.CANCELLATION, RefundReason.ACCOUNT_DELETION)
        ],
        "posted": request.POST,
        "error": error,
    }
    return TemplateResponse(
        request, "subscriptions/refund_request.html", context, status=400 if error else 200
    )


def _refund_summary(result: PaymentsRefund) -> str:
    return quotes.summary(result.quote.amount, result.quote.rule, result.quote.ends_at)


def refund_list(request: AuthenticatedHttpRequest) -> TemplateResponse:
    requests_ = selectors.refund_requests(user=request.user)
    return TemplateResponse(request, "subscriptions/refund_list.html", {"refunds": requests_})
