"""Refunds (002, 004): asking for one on an invoice, the list of the customer's refunds."""

from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods

from accounts.http import AmbiguousField, AuthenticatedHttpRequest, posted_once
from accounts.throttle import throttle_hit
from portal.pagination import page_of
from subscriptions import quotes, selectors, wording
from subscriptions.models import RefundReason, RefundStatus
from subscriptions.services.errors import SubscriptionConflict, SubscriptionError
from subscriptions.services.refund_quotes import (
    PaymentsRefund,
    breakdown_for,
    existing_request,
    payments_refund,
    total,
)
from subscriptions.services.refunds import refund_requests_create
from subscriptions.views.common import refund_sentence


@require_http_methods(["GET", "POST"])
def refund_request(request: AuthenticatedHttpRequest, number: str) -> HttpResponse:
    invoice = selectors.invoice_for_user(user=request.user, number=number)
    if invoice is None:
        raise Http404
    now = timezone.now()
    existing = existing_request(invoice)
    error = ""
    status = 200
    if request.method == "POST" and existing is None:
        try:
            if throttled := throttle_hit(user_id=request.user.pk, action="refund_request"):
                status = 429
                raise SubscriptionError(throttled.message)
            shown = quotes.read(
                posted_once(request.POST, "quote"), what="refund", pk=invoice.pk, now=now
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
        except SubscriptionConflict as exc:
            # Asked at the same moment from another tab: the page shows that request.
            existing, error, status = existing_request(invoice), exc.message, 409
        except (SubscriptionError, AmbiguousField) as exc:
            error = exc.message
            status = status if status != 200 else 400  # a throttle keeps its 429
        else:
            # The least advanced part says how far the refund is (one may wait for a retry).
            pending = [row for row in rows if row.status != RefundStatus.SUCCEEDED]
            refund = pending[0] if pending else rows[0]
            made = sum(row.amount for row in rows if row.status == RefundStatus.SUCCEEDED)
            done = {
                "refund": refund,
                "total": total(rows),
                "invoice": invoice,
                "breakdown": breakdown_for(
                    [(row.invoice, row.amount) for row in rows], counted=made
                )
                if refund.status != RefundStatus.REVIEW
                else None,
            }
            return TemplateResponse(request, "subscriptions/refund_done.html", done)
    result = payments_refund(invoice=invoice, now=now)
    quote = result.quote
    context: dict[str, object] = {
        "invoice": invoice,
        "existing": existing,
        "quote": quote,
        "parts": result.parts if len(result.parts) > 1 else (),
        "breakdown": breakdown_for(result.parts or ((invoice, quote.amount),))
        if quote.rule != "none"
        else None,
        "holds_until": result.holds_until,
        "quote_token": quotes.token(
            what="refund", pk=invoice.pk, quoted_at=now, shown=_refund_summary(result)
        ),
        "explanation": refund_sentence(request, quote)
        or wording.explain(quote, translation.get_language() or "fr"),
        "reasons": [
            (value, label)
            for value, label in RefundReason.choices
            if value not in (RefundReason.CANCELLATION, RefundReason.ACCOUNT_DELETION)
        ],
        "posted": request.POST,
        "error": error,
    }
    return TemplateResponse(request, "subscriptions/refund_request.html", context, status=status)


def _refund_summary(result: PaymentsRefund) -> str:
    return quotes.summary(result.quote.amount, result.quote.rule, result.quote.ends_at)


def refund_list(request: AuthenticatedHttpRequest) -> TemplateResponse:
    page = page_of(request, selectors.refund_requests(user=request.user))
    return TemplateResponse(
        request, "subscriptions/refund_list.html", {"refunds": page, "page": page}
    )
