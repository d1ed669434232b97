"""Cancelling in three clicks (003; L215-1-1, D215-1 to D215-3), and undoing it."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AmbiguousField, AuthenticatedHttpRequest, posted_once
from subscriptions import quotes, selectors
from subscriptions.models import SubscriptionStatus
from subscriptions.policy import RefundBreakdown
from subscriptions.services.cancellation import (
    CancellationQuote,
    cancellation_confirm,
    cancellation_end,
    cancellation_quote,
    cancellation_undo,
    refund_to_charge_back,
)
from subscriptions.services.errors import SubscriptionConflict, SubscriptionError
from subscriptions.services.refund_quotes import (
    breakdown_for,
    cancellation_refunds,
    total,
)
from subscriptions.views.common import live_subscription, refund_sentence

SUMMARY_STEP = "summary"
REASON_KEY = "cancel_reason"


@require_http_methods(["GET", "POST"])
def cancel(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Click 1 opens this form (prefilled); click 2, "Continue", shows the summary.

    The summary can also be read again by GET (`?step=summary`, the reason kept in the
    session), so switching language or coming back from history does not lose step 2.
    """
    subscription = selectors.subscription_live(user=request.user)
    if subscription is None:
        return TemplateResponse(request, "subscriptions/cancel_start.html", {})
    summary = request.method == "POST" or request.GET.get("step") == SUMMARY_STEP
    if request.method == "POST":
        reason = request.POST.get("reason", "").replace("\x00", "")[:2000]
        request.session[REASON_KEY] = reason
    else:
        reason = request.session.get(REASON_KEY, "") if summary else ""
    now = timezone.now()
    if not summary and subscription.cancel_at is None:
        # Click 1 states the end of the service only: the refunds are quoted on the summary.
        end = cancellation_end(subscription=subscription, now=now)
        context = {"subscription": subscription, "end": end, "reason": reason}
        return TemplateResponse(request, "subscriptions/cancel_form.html", context)
    quote = cancellation_quote(subscription=subscription, now=now)
    context = {
        "subscription": subscription,
        "quote": quote,
        "reason": reason,
        "refund_explanation": refund_sentence(request, quote.refund),
        "refund_breakdown": _breakdown(quote, full=False),
        "guarantee_breakdown": _breakdown(quote, full=True),
        "guarantee_explanation": refund_sentence(request, quote.guarantee),
        "charge_back": refund_to_charge_back(subscription),
        "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS,
        "quote_token": quotes.token(
            what="cancel", pk=subscription.pk, quoted_at=now, shown=_cancel_summary(quote)
        ),
    }
    if subscription.cancel_at is not None:
        return TemplateResponse(request, "subscriptions/cancel_pending.html", context)
    context["language_next"] = f"{reverse('subscriptions:cancel')}?step={SUMMARY_STEP}"
    return TemplateResponse(request, "subscriptions/cancel_summary.html", context)


def _breakdown(quote: CancellationQuote, *, full: bool) -> RefundBreakdown | None:
    """Paid, refunded and kept, for the refund the summary offers (002)."""
    return breakdown_for(quote.guarantee_parts if full else quote.refund_parts)


def _cancel_summary(quote: CancellationQuote) -> str:
    guarantee = quote.guarantee.amount if quote.guarantee else None
    return quotes.summary(quote.ends_at, quote.refund.amount, guarantee)


@require_http_methods(["GET", "POST"])
def cancel_confirm(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Click 3: "Confirm my cancellation request" records it; the page and an e-mail say so."""
    if request.method == "GET":  # reopened from history: the summary, or what was recorded
        return redirect(f"{reverse('subscriptions:cancel')}?step={SUMMARY_STEP}")
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
            posted_once(request.POST, "quote"), what="cancel", pk=subscription.pk, now=now
        )
        full_refund = posted_once(request.POST, "full_refund") == "1"
        if subscription.cancel_at is None or full_refund:  # else confirmed twice: shown again
            then = cancellation_quote(subscription=subscription, now=shown.at)
            try:
                quotes.check(shown, _cancel_summary(then))
            except SubscriptionError:
                # Another tab confirmed this very summary a moment ago: its cancellation
                # (and refund) stand, and this click shows them rather than a changed page.
                subscription.refresh_from_db(fields=["cancel_at"])
                if subscription.cancel_at is None or full_refund:
                    raise
        sub, refunded = cancellation_confirm(
            user=request.user,
            subscription=subscription,
            reason=request.POST.get("reason", "").replace("\x00", ""),
            now=now,
            full_refund=full_refund,
            quoted_at=shown.at,
        )
    except (SubscriptionError, AmbiguousField) as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:cancel")
    request.session.pop(REASON_KEY, None)
    context = {
        "subscription": sub,
        "refund": total(refunded or cancellation_refunds(sub)),
        "charge_back": refund_to_charge_back(sub),
        "purge_grace_days": settings.TRIAL_PURGE_GRACE_DAYS,
    }
    return TemplateResponse(request, "subscriptions/cancel_done.html", context)


@require_POST
def cancel_undo(request: AuthenticatedHttpRequest) -> HttpResponse:
    subscription = live_subscription(request)
    now = timezone.now()
    try:
        shown, _quoted_at = quotes.charge_read(
            request.POST.get("charge", ""), what="keep", pk=subscription.pk, now=now
        )
        cancellation_undo(user=request.user, subscription=subscription, now=now, shown=shown)
    except SubscriptionConflict as exc:
        messages.info(request, exc.message)  # a second click: the first one kept it
    except SubscriptionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your subscription continues."))
    return redirect("subscriptions:detail")
