"""Stripe events, after dj-stripe checked the signature and stored the event once.

Each handler re-reads the object from Stripe and calls a service, so duplicated or
out-of-order deliveries end in the same state (Zulip's corporate webhook, STYLE.md).
A handler that raises leaves dj-stripe's WebhookEventTrigger unprocessed with its traceback
(visible in the admin); `stripe_events_retry` processes it again.
"""

import logging
from datetime import timedelta
from traceback import format_exc
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from djstripe import event_handlers as djstripe_handlers
from djstripe.models import Event, WebhookEndpoint, WebhookEventTrigger
from djstripe.models.webhooks import get_remote_ip
from djstripe.settings import djstripe_settings
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
    # Our handlers re-read the object from Stripe: dj-stripe's generic handler would fetch
    # it a second time for its mirror. One Stripe fetch per event (issue 18).
    for event_type in REREAD_BY_US:
        for generic in (
            djstripe_handlers.handle_other_event,
            djstripe_handlers.handle_charge_event,
        ):
            WEBHOOK_SIGNALS[event_type].disconnect(generic, sender=Event)


REREAD_BY_US = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "charge.refunded",
)


def trigger_store(request: HttpRequest, endpoint: WebhookEndpoint) -> WebhookEventTrigger:
    """In the request: dj-stripe's WebhookEventTrigger.from_request without its processing.
    The event is stored with its headers and whether its signature holds (no Stripe call)."""
    try:
        body = request.body.decode(request.encoding or "utf-8")
    except UnicodeDecodeError:
        body = "(error decoding body)"
    account = endpoint.djstripe_owner_account
    # Issue 13: a secret chosen by the caller never replaces the endpoint's, DEBUG or not
    # (dj-stripe's validate() reads this header in DEBUG): it is not even stored.
    headers = {k: v for k, v in request.headers.items() if k.lower() != OVERRIDE_HEADER}
    trigger = WebhookEventTrigger(
        headers=headers,
        body=body,
        remote_ip=get_remote_ip(request),
        stripe_trigger_account=account,
        webhook_endpoint=endpoint,
    )
    api_key = (account.default_api_key if account else None) or (
        djstripe_settings.get_default_api_key(endpoint.livemode)
    )
    # Checked before it is stored, so that storing it, valid or not, is one insert.
    trigger.valid = trigger.validate(secret=endpoint.secret, api_key=api_key)
    trigger.save(force_insert=True)
    return trigger


def trigger_process(*, trigger_id: int) -> bool:
    """In a worker: process a stored, valid event once (a trigger already processed is left
    as it is; dj-stripe stores each event id once, so a duplicate delivery runs nothing).
    A failure is kept on the trigger with its traceback and raised; the billing run's
    `stripe_events_retry` processes it again."""
    trigger = WebhookEventTrigger.objects.filter(pk=trigger_id, valid=True).first()
    if trigger is None or trigger.processed:
        return False
    try:
        with transaction.atomic():
            trigger.process(save=False)
    except Exception as exc:
        trigger.exception = str(exc)[:128]
        trigger.traceback = format_exc()
        trigger.save(update_fields=["exception", "traceback"])
        raise
    trigger.save(update_fields=["event", "processed", "exception", "traceback"])
    return True


def stripe_events_retry(*, limit: int = 50) -> int:
    """Process again the valid events whose handler failed (Stripe also redelivers them)."""
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
