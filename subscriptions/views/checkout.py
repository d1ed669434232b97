"""Starting a trial, subscribing, the card, paying an open invoice (001, 004)."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AmbiguousField, AuthenticatedHttpRequest, posted_once
from legal import selectors as legal_selectors
from legal.models import TermsVersion
from subscriptions import quotes, selectors, wording
from subscriptions.models import AttemptStatus, InvoiceStatus, Plan, Price, SubscriptionStatus
from subscriptions.policy import ShownCharge
from subscriptions.services import checkout, trials
from subscriptions.services.cards import card_save, card_setup_start
from subscriptions.services.checkout import checkout_quote
from subscriptions.services.errors import GatewayError, QuoteChanged, SubscriptionError
from subscriptions.services.payments import invoice_pay_now, payment_intent_sync
from subscriptions.taxes import customer_tax


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
    terms = legal_selectors.terms_latest()
    error = notice = ""
    if request.method == "POST":
        try:
            # 004: the version accepted is recorded; unticked, nothing is saved or charged.
            if terms is None or request.POST.get("terms", "") != str(terms.pk):
                raise SubscriptionError(_terms_missing(terms))
            setup_intent = request.POST.get("setup_intent", "").strip()
            if setup_intent:
                card_save(user=user, setup_intent_id=setup_intent)
            shown, _quoted_at = quotes.charge_read(
                request.POST.get("charge", ""), what="subscribe", pk=price.pk, now=now
            )
            subscription = checkout.subscribe(
                user=user, price=price, now=now, shown=shown, terms=terms
            )
        except QuoteChanged as exc:
            notice = exc.message  # nothing charged: the page shows the new quote to confirm
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
    quote = checkout_quote(user=user, price=price, now=now)
    language = translation.get_language() or "fr"
    treatment = quote.tax_treatment or customer_tax(user)
    context = {
        "price": price,
        "quote": quote,
        "tax_rate": wording.tax_rate(treatment, language),
        "tax_mention": wording.tax_mention(treatment, language),
        "tax_summary": wording.tax_summary(treatment, language, is_business=user.is_business),
        "charge_token": quotes.charge_token(
            what="subscribe", pk=price.pk, charge=quote.charge, quoted_at=now
        ),
        "notice": notice,
        "terms": terms,
        "guarantee_used": price.plan_id in selectors.guarantee_used_plan_ids(user=user),
    }
    return _card_page(
        request,
        "subscriptions/subscribe.html",
        context,
        error=error,
        status=409 if notice else None,
    )


def _terms_missing(terms: TermsVersion | None) -> str:
    if terms is None:
        return _("Our terms of service are not published yet: subscribing is not possible.")
    return _(
        "Please tick the box to accept the terms of service (version %(version)s): "
        "nothing was saved or charged."
    ) % {"version": terms.version}


def _card_page(
    request: AuthenticatedHttpRequest,
    template: str,
    context: dict[str, object],
    *,
    error: str = "",
    new_card: bool = False,
    status: int | None = None,
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
    return TemplateResponse(request, template, context, status=400 if error else status or 200)


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
            action = posted_once(request.POST, "action")
            if action == "authenticated" and attempt and needs_authentication:
                payment_intent_sync(payment_intent_id=attempt.payment_intent_id, now=now)
            else:
                shown, _quoted_at = quotes.charge_read(
                    posted_once(request.POST, "charge"), what="invoice", pk=invoice.pk, now=now
                )
                invoice_pay_now(user=request.user, invoice=invoice, now=now, shown=shown)
        except (SubscriptionError, AmbiguousField) as exc:
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
        "charge_token": quotes.charge_token(
            what="invoice",
            pk=invoice.pk,
            charge=ShownCharge(invoice.amount_due, invoice.currency),
            quoted_at=timezone.now(),
        ),
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
