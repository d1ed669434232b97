"""Thin Celery tasks: take ids, call a service. Safe to run twice (acks_late)."""

import logging
from typing import Any

from celery import shared_task
from django.utils import timezone

from privacy import services
from privacy.models import DataExport

logger = logging.getLogger(__name__)

STRIPE_RETRY_BASE_SECONDS = 300


@shared_task(acks_late=True)
def export_build(export_id: int) -> str:
    export = DataExport.objects.filter(pk=export_id).first()
    if export is None:  # the account was deleted meanwhile
        return "missing"
    return services.export_build(export=export, now=timezone.now()).status


@shared_task(acks_late=True)
def exports_expire() -> int:
    """Run by beat (hourly is enough): archives past their date are deleted."""
    return services.exports_expire(now=timezone.now())


@shared_task(bind=True, acks_late=True, max_retries=8)
def stripe_customer_delete(self: Any, customer_id: str) -> bool:
    """A deleted account's Stripe customer, when Stripe failed at the time: retried with a
    growing delay (5 min to about 10 h), then left to staff (logged as an error)."""
    if services.stripe_customer_delete(customer_id=customer_id):
        return True
    # Eager (the embedded default) cannot wait before a retry: staff finish it from the log.
    if self.request.is_eager or self.request.retries >= self.max_retries:
        logger.error("Stripe customer %s of a deleted account is still there", customer_id)
        return False
    raise self.retry(countdown=STRIPE_RETRY_BASE_SECONDS * 2**self.request.retries)
