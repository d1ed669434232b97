"""Changing plan (000, 001, 004): the quote and its confirmation, contract change requests."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AmbiguousField, AuthenticatedHttpRequest, posted_once
from subscriptions import wording
from subscriptions.models import ContractChangeRequest, Price
from subscriptions.services import contract_changes, plan_changes
from subscriptions.services.contract_changes import (
    change_request_create,
    contract_change_options,
)
from subscriptions.services.errors import SubscriptionConflict, SubscriptionError
from subscriptions.services.invoices import credit_split
from subscriptions.services.plan_changes import (
    plan_change_quote_for,
    quote_token,
)
from subscriptions.taxes import customer_tax
from subscriptions.views.common import conflict, live_subscription


@require_http_methods(["GET", "POST"])
def plan_change(request: AuthenticatedHttpRequest, price_id: int) -> HttpResponse:
    """The quote in place (htmx partial) or as a page, then the confirmation."""
    subscription = live_subscription(request)
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
                token=posted_once(request.POST, "quote"),
                now=now,
            )
        except SubscriptionConflict as exc:
            return conflict(request, exc)
        except (SubscriptionError, AmbiguousField) as exc:
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
    target_amounts = target.amounts_for(customer_tax(request.user))
    # The account's credit pays first: the card is charged, and the form signs, the rest.
    from_credit, by_card = (0, 0)
    if quote.mode == "immediate":
        from_credit, by_card = credit_split(subscription, quote.amount_due)
    context = {
        "subscription": subscription,
        "target": target,
        "target_total": target_amounts.total,
        "target_taxed": target_amounts.tax > 0,
        "quote": quote,
        "explanation": wording.explain(
            quote,
            translation.get_language() or "fr",
            tz=request.user.time_zone,
        ),
        "from_credit": from_credit,
        "by_card": by_card,
        "token": quote_token(
            subscription=subscription, target=target, quoted_at=now, amount=by_card
        ),
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
        subscription=live_subscription(request),
    )
    messages.success(request, _("Your scheduled change is withdrawn."))
    return redirect("subscriptions:detail")


@require_http_methods(["GET", "POST"])
def change_request_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    subscription = live_subscription(request)
    now = timezone.now()
    try:
        quoted = contract_change_options(subscription=subscription, now=now)
    except SubscriptionError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:detail")
    options = [price for price, _quote in quoted]
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
                now=now,
            )
        except SubscriptionError as exc:
            error = exc.message
        else:
            messages.success(request, _("Your request is sent: our team will answer by e-mail."))
            return redirect("subscriptions:detail")
    context = {
        "subscription": subscription,
        "options": options,
        "quoted": quoted,
        "now": now,
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
