"""Thin Celery tasks: take ids, call a service. Safe to run twice (acks_late)."""

from datetime import datetime
from typing import Any

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from subscriptions import emails, invoices, webhooks
from subscriptions.models import AccountingExport, CreditNote, Invoice
from subscriptions.services import accounting_exports, billing, contract_changes


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(
    *, to: str, subject: str, text: str, html: str, attachments: list[list[Any]] | None = None
) -> None:
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    for kind, pk in attachments or []:
        # The Factur-X PDF, rendered here in the document's own language.
        model = CreditNote if kind == emails.CREDIT_NOTE_PDF else Invoice
        document = model.objects.filter(pk=pk).first()
        if document is not None:
            message.attach(
                invoices.invoice_pdf_filename(document),
                invoices.document_pdf(document),
                "application/pdf",
            )
    message.send()


@shared_task(acks_late=True)
def billing_run() -> dict[str, int]:
    """Every few minutes: trials ending, renewals due, retries due, reminders, purges."""
    return billing.billing_run(now=timezone.now())


@shared_task(acks_late=True)
def stripe_events_retry() -> int:
    return webhooks.stripe_events_retry()


@shared_task(acks_late=True)
def accounting_export_build(export_id: int) -> str:
    export = AccountingExport.objects.filter(pk=export_id).first()
    if export is None:
        return "missing"
    return accounting_exports.accounting_export_build(export=export, now=timezone.now()).status


@shared_task(acks_late=True)
def review_reminders_send() -> int:
    """Hourly: staff are told of reviews near their 5-business-day target (002)."""
    return contract_changes.review_reminders_send(now=timezone.now())


@shared_task(acks_late=True)
def billing_item(*, step: str, pk: int, now: str) -> str:
    """One item the billing run found due; the service locks its row and checks again, so a
    second delivery, or two workers, act once."""
    return billing.billing_item(step=step, pk=pk, now=datetime.fromisoformat(now))


@shared_task(acks_late=True)
def stripe_event_process(*, trigger_id: int) -> bool:
    """A Stripe event the endpoint stored: processed here, at most one Stripe fetch."""
    return webhooks.trigger_process(trigger_id=trigger_id)
