"""E-mails to customers and staff: rendered in the recipient's language and time zone, sent
after commit."""

from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import User

STAFF_BILLING = "Billing"
STAFF_SUPPORT = "Support"

EMAIL_SEND_TASK = "subscriptions.tasks.email_send"


def render(template: str, context: dict[str, Any], *, language: str, tz: str) -> dict[str, str]:
    with translation.override(language), timezone.override(tz):
        full = {"vendor_name": settings.VENDOR_NAME, "site_url": settings.SITE_URL, **context}
        subject = render_to_string(f"emails/{template}_subject.txt", full).strip()
        text = render_to_string(f"emails/{template}.txt", full)
        html = render_to_string(f"emails/{template}.html", full)
    return {"subject": " ".join(subject.split()), "text": text, "html": html}


# What an e-mail may attach, named by kind and id: the worker renders the PDF itself, so
# the task's message stays small and JSON (a document, not its bytes, crosses the broker).
INVOICE_PDF = "invoice"
CREDIT_NOTE_PDF = "credit_note"


def email_user(
    user: User,
    template: str,
    context: dict[str, Any],
    *,
    attachments: list[tuple[str, int]] | None = None,
) -> None:
    """Queue an e-mail to the customer once the current transaction commits."""
    message = render(template, {"user": user, **context}, language=user.language, tz=user.time_zone)
    to = user.email
    attached = [[kind, pk] for kind, pk in attachments or []]
    transaction.on_commit(lambda: email_send_queue(to=to, message=message, attachments=attached))


def email_send_queue(
    *, to: str, message: dict[str, str], attachments: list[list[Any]] | None = None
) -> None:
    """Queue `subscriptions.tasks.email_send` by name: tasks import services and e-mails,
    never the other way round."""
    extra: dict[str, Any] = {"attachments": attachments} if attachments else {}
    current_app.tasks[EMAIL_SEND_TASK].delay(to=to, **message, **extra)


def staff_recipients(group: str) -> list[tuple[str, str, str]]:
    """(address, language, time zone) of who is told of new work: the configured address
    (STAFF_NOTIFY_EMAIL) in the site's language, else each active member of the group."""
    address = getattr(settings, "STAFF_NOTIFY_EMAIL", "")
    if address:
        return [(address, settings.LANGUAGE_CODE, settings.TIME_ZONE)]
    members = User.objects.filter(is_active=True, is_staff=True, groups__name=group)
    return [(u.email, u.language, u.time_zone) for u in members.order_by("pk").distinct()]


def email_staff(group: str, template: str, context: dict[str, Any]) -> None:
    """Queue a staff notification (new work, a deadline near) once the transaction commits."""
    for to, language, tz in staff_recipients(group):
        message = render(template, context, language=language, tz=tz)
        transaction.on_commit(
            lambda to=to, message=message: email_send_queue(to=to, message=message)  # type: ignore[misc]
        )
