"""Thin Celery tasks: take ids, call a service. Safe to run twice (acks_late)."""

from celery import shared_task
from django.utils import timezone

from support import services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def support_notify(*, message_id: int) -> bool:
    return services.support_notify(message_id=message_id, now=timezone.now())
