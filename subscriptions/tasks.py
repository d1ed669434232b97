"""Thin Celery tasks: take ids, call a service. Safe to run twice (acks_late)."""

from datetime import datetime

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from subscriptions import webhooks
from subscriptions.services import billing


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(*, to: str, subject: str, text: str, html: str) -> None:
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


@shared_task(acks_late=True)
def billing_run() -> dict[str, int]:
    """Every few minutes: trials ending, renewals due, retries due, reminders, purges."""
    return billing.billing_run(now=timezone.now())


@shared_task(acks_late=True)
def stripe_events_retry() -> int:
    return webhooks.stripe_events_retry()


@shared_task(acks_late=True)
def billing_item(*, step: str, pk: int, now: str) -> str:
    """One item the billing run found due; the service locks its row and checks again, so a
    second delivery, or two workers, act once."""
    return billing.billing_item(step=step, pk=pk, now=datetime.fromisoformat(now))


@shared_task(acks_late=True)
def stripe_event_process(*, trigger_id: int) -> bool:
    """A Stripe event the endpoint stored: processed here, at most one Stripe fetch."""
    return webhooks.trigger_process(trigger_id=trigger_id)
