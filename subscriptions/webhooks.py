"""Stripe events, after dj-stripe checked the signature and stored the event once.

Each handler re-reads the object from Stripe and calls a service, so duplicated or
out-of-order deliveries end in the same state (Zulip's corporate webhook, STYLE.md).
A handler that raises leaves dj-stripe's WebhookEventTrigger unprocessed with its traceback
(visible in the admin); `stripe_events_retry` processes it again.
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone
from djstripe.models import Event
from djstripe.signals import WEBHOOK_SIGNALS, webhook_pre_validate

from subscriptions.models import Invoice
from subscriptions.services.auditing import audit
from subscriptions.services.payments import charge_refunds_sync, payment_intent_sync

logger = logging.getLogger(__name__)


def _object(event: Event) -> dict[str, Any]:
    return dict(event.data.get("object", {}))


def payment_intent_changed(sender: Any, event: Event, **kwargs: Any) -> None:
    payment_intent_sync(payment_intent_id=_object(event)["id"], now=timezone.now())


def charge_refunded(sender: Any, event: Event, **kwargs: Any) -> None:
    charge_refunds_sync(charge_id=_object(event)["id"], now=timezone.now())


def dispute_created(sender: Any, event: Event, **kwargs: Any) -> None:
    dispute = _object(event)
    charge_id = str(dispute.get("charge") or "")
    invoice = Invoice.objects.filter(stripe_charge_id=charge_id).select_related("user").first()
    audit(
        user=invoice.user if invoice else None,
        kind="dispute_opened",
        subscription=invoice.subscription if invoice else None,
        charge=charge_id,
        invoice=invoice.number if invoice else "",
        amount=dispute.get("amount"),
        reason=dispute.get("reason", ""),
    )
    mail_admins(
        f"Dispute opened on {charge_id}",
        f"Invoice {invoice.number if invoice else '?'}: {dispute.get('reason', '')}. "
        f"Answer it in the Stripe dashboard before its deadline.",
        fail_silently=True,
    )


HANDLERS = {
    "payment_intent.succeeded": payment_intent_changed,
    "payment_intent.payment_failed": payment_intent_changed,
    "payment_intent.requires_action": payment_intent_changed,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_created,
}


# dj-stripe, when DEBUG is on, checks the signature against a secret taken from this header
# (for the Stripe CLI): whoever sends it signs with a secret of their own choice.
OVERRIDE_HEADER = "x-djstripe-webhook-secret"


def secret_override_drop(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Issue 13: the endpoint's own secret is the only one, whatever DEBUG says."""
    instance.headers = {
        name: value for name, value in instance.headers.items() if name.lower() != OVERRIDE_HEADER
    }


def connect() -> None:
    for event_type, handler in HANDLERS.items():
        WEBHOOK_SIGNALS[event_type].connect(handler, dispatch_uid=f"portal-{event_type}")
    webhook_pre_validate.connect(secret_override_drop, dispatch_uid="portal-secret-override")


def stripe_events_retry(*, limit: int = 50) -> int:
    """Process again the valid events whose handler failed (Stripe also redelivers them)."""
    from djstripe.models import WebhookEventTrigger

    since = timezone.now() - timedelta(days=settings.STRIPE_EVENT_RETRY_DAYS)
    retried = 0
    for trigger in WebhookEventTrigger.objects.filter(
        valid=True, processed=False, created__gte=since
    ).order_by("created")[:limit]:
        try:
            trigger.process()
            retried += 1
        except Exception:
            logger.exception("Stripe event trigger %s failed again", trigger.pk)
    return retried
