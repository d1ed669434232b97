"""Thin Celery tasks: take ids, call a service. Safe to run twice (acks_late)."""

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from subscriptions import webhooks
from subscriptions.services import billing, contract_changes


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
def review_reminders_send() -> int:
    """Hourly: staff are told of reviews near their 5-business-day target (002)."""
    return contract_changes.review_reminders_send(now=timezone.now())
