"""Every change to support tickets: one function per use case, each in its transaction,
with an audit event on the customer's timeline and e-mails queued after commit."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from portal.locks import lock
from subscriptions import emails
from subscriptions.selectors import reply_hours_current
from subscriptions.services.auditing import audit
from support.attachments import CheckedFile
from support.models import Attachment, InternalNote, Message, Ticket, TicketStatus


def _default_reply_hours() -> int:
    # 001: 48 h unless the plan says otherwise; a customer without a plan gets the default.
    return int(getattr(settings, "SUPPORT_DEFAULT_REPLY_HOURS", 48))


def ticket_reply_hours(*, user: User) -> int:
    """The reply target of the customer's live (else most recent) plan (001: 24 h on Premium)."""
    hours = reply_hours_current(user=user)
    return _default_reply_hours() if hours is None else int(hours)


def _attachments_save(message: Message, files: Sequence[CheckedFile]) -> None:
    for checked in files:
        attachment = Attachment(
            message=message,
            filename=checked.filename,
            size=checked.size,
            content_type=checked.content_type,
        )
        attachment.file.save(checked.filename, checked.upload, save=False)
        attachment.save()


def _support_notify_queue(message: Message) -> None:
    message_id = message.pk
    transaction.on_commit(
        lambda: current_app.tasks["support.tasks.support_notify"].delay(message_id=message_id)
    )


def ticket_create(
    *,
    user: User,
    category: str,
    subject: str,
    body: str,
    files: Sequence[CheckedFile] = (),
    now: datetime,
) -> Ticket:
    with transaction.atomic():
        ticket = Ticket.objects.create(
            user=user,
            category=category,
            subject=subject,
            status=TicketStatus.OPEN,
            created_at=now,
            reply_due_at=now + timedelta(hours=ticket_reply_hours(user=user)),
            last_customer_message_at=now,
        )
        message = Message.objects.create(
            ticket=ticket, author=user, is_staff=False, body=body, created_at=now
        )
        _attachments_save(message, files)
        audit(user=user, kind="ticket_opened", actor=user, ticket=ticket.pk, category=category)
        _support_notify_queue(message)
        # 001: the customer is told their ticket arrived and when we reply at the latest.
        emails.email_user(
            user,
            "ticket_opened",
            {
                "ticket": ticket,
                "reply_hours": ticket_reply_hours(user=user),
                "ticket_path": f"account/support/{ticket.pk}/",
            },
        )
    return ticket


def ticket_reply(
    *,
    ticket: Ticket,
    user: User,
    body: str,
    files: Sequence[CheckedFile] = (),
    now: datetime,
) -> Message:
    """A customer writes on their ticket: it waits for our reply again (a closed one reopens)."""
    with transaction.atomic():
        locked = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
        message = Message.objects.create(
            ticket=locked, author=user, is_staff=False, body=body, created_at=now
        )
        _attachments_save(message, files)
        fields = ["last_customer_message_at"]
        if locked.status != TicketStatus.OPEN:
            # A new question gets a new reply target; more messages while we have not
            # answered yet keep the first one.
            if locked.status == TicketStatus.CLOSED:
                audit(user=locked.user, kind="ticket_reopened", actor=user, ticket=locked.pk)
            locked.status = TicketStatus.OPEN
            locked.reply_due_at = now + timedelta(hours=ticket_reply_hours(user=locked.user))
            locked.closed_at = None
            fields += ["status", "reply_due_at", "closed_at"]
        locked.last_customer_message_at = now
        locked.save(update_fields=fields)
        audit(user=locked.user, kind="ticket_message", actor=user, ticket=locked.pk)
        _support_notify_queue(message)
    ticket.refresh_from_db()
    return message


def ticket_staff_reply(*, ticket: Ticket, staff: User, body: str, now: datetime) -> Message:
    """Support answers: the customer is e-mailed in their own language."""
    with transaction.atomic():
        locked = lock(Ticket, ticket.pk, "user")
        message = Message.objects.create(
            ticket=locked, author=staff, is_staff=True, body=body, created_at=now
        )
        locked.status = TicketStatus.ANSWERED
        locked.first_staff_reply_at = locked.first_staff_reply_at or now
        locked.last_staff_reply_at = now
        locked.closed_at = None
        locked.save(
            update_fields=["status", "first_staff_reply_at", "last_staff_reply_at", "closed_at"]
        )
        audit(user=locked.user, kind="ticket_answered", actor=staff, ticket=locked.pk)
        emails.email_user(
            locked.user,
            "support_reply",
            {
                "ticket": locked,
                "message": message,
                "ticket_path": f"account/support/{locked.pk}/",
            },
        )
    ticket.refresh_from_db()
    return message


def internal_note_add(
    *, customer: User, author: User, body: str, now: datetime, ticket: Ticket | None = None
) -> InternalNote:
    """Staff write a note for each other about a customer (or one of their tickets); the
    customer is never told and never sees it on the portal."""
    if ticket is not None and ticket.user_id != customer.pk:
        raise ValueError("the ticket is another customer's")
    return InternalNote.objects.create(
        customer=customer, ticket=ticket, author=author, body=body.strip(), created_at=now
    )


def ticket_close(*, ticket: Ticket, user: User, now: datetime) -> Ticket:
    with transaction.atomic():
        locked = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
        if locked.status != TicketStatus.CLOSED:
            locked.status = TicketStatus.CLOSED
            locked.closed_at = now
            locked.save(update_fields=["status", "closed_at"])
            audit(user=locked.user, kind="ticket_closed", actor=user, ticket=locked.pk)
    ticket.refresh_from_db()
    return ticket


def support_notify(*, message_id: int, now: datetime) -> bool:
    """Send the support address a copy of a customer message, once (the task may run twice)."""
    with transaction.atomic():
        claimed = Message.objects.filter(
            pk=message_id, is_staff=False, notified_at__isnull=True
        ).update(notified_at=now)
        if not claimed:
            return False
        message = (
            Message.objects.select_related("ticket", "ticket__user")
            .prefetch_related("attachments")
            .get(pk=message_id)
        )
        ticket = message.ticket
        with translation.override(settings.LANGUAGE_CODE), timezone.override(settings.TIME_ZONE):
            context = {
                "vendor_name": settings.VENDOR_NAME,
                "site_url": settings.SITE_URL,
                "message": message,
                "ticket": ticket,
                "customer": ticket.user,
                "is_new_ticket": not ticket.messages.filter(pk__lt=message.pk).exists(),
                "admin_url": settings.SITE_URL
                + reverse("admin:support_ticket_change", args=[ticket.pk]),
            }
            subject = render_to_string("emails/support_message_subject.txt", context)
            text = render_to_string("emails/support_message.txt", context)
            html = render_to_string("emails/support_message.html", context)
        # Sent inside the transaction: if the mail server fails, the claim is undone and the
        # task's retry sends it.
        email = EmailMultiAlternatives(
            subject=" ".join(subject.split()), body=text, to=[settings.SUPPORT_EMAIL]
        )
        email.attach_alternative(html, "text/html")
        email.send()
    return True
