"""Thin Celery tasks: take ids, call a service. Safe to run twice (acks_late)."""

from celery import shared_task
from django.utils import timezone

from legal import services


@shared_task(acks_late=True)
def terms_notify(*, version_id: int) -> int:
    return services.terms_notify(version_id=version_id, now=timezone.now())
