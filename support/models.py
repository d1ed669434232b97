import os
import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from support.storage import private_storage

SUBJECT_MAX_LENGTH = 200


class Category(models.TextChoices):
    BILLING = "billing", _("Billing")
    TECHNICAL = "technical", _("Technical problem")
    FEATURE_REQUEST = "feature_request", _("Feature request")
    ACCOUNT_DELETION = "account_deletion", _("Account deletion")


class TicketStatus(models.TextChoices):
    OPEN = "open", _("open")
    ANSWERED = "answered", _("answered")
    CLOSED = "closed", _("closed")


def overdue_condition(now: datetime) -> Q:
    """Awaiting a reply past its target, with no staff reply since the customer last wrote."""
    return Q(status=TicketStatus.OPEN, reply_due_at__lt=now) & (
        Q(last_staff_reply_at__isnull=True)
        | Q(last_staff_reply_at__lt=models.F("last_customer_message_at"))
    )


class TicketQuerySet(QuerySet["Ticket"]):
    def with_overdue(self, now: datetime) -> "TicketQuerySet":
        return self.annotate(
            is_overdue=Case(
                When(overdue_condition(now), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )


class Ticket(models.Model):
    """A customer's question to support (001): any time, from the portal."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tickets",
        verbose_name=_("customer"),
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX_LENGTH)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=TicketStatus.choices,
        default=TicketStatus.OPEN,
        db_index=True,
    )
    created_at = models.DateTimeField(_("opened"))
    # The target for the reply the customer is waiting for (001: 48 h, 24 h on Premium);
    # set when the ticket is opened and again when a customer message reopens it.
    reply_due_at = models.DateTimeField(_("reply due"), db_index=True)
    last_customer_message_at = models.DateTimeField(_("last customer message"))
    first_staff_reply_at = models.DateTimeField(_("first staff reply"), null=True, blank=True)
    last_staff_reply_at = models.DateTimeField(_("last staff reply"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="ticket_user_newest")]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def reference(self) -> str:
        return f"#{self.pk}" if self.pk else ""


class Message(models.Model):
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("ticket")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    is_staff = models.BooleanField(_("from support"), default=False)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("sent"))
    # The support team's copy of a customer message was sent (the task may run twice).
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.ticket.reference} {self.created_at:%Y-%m-%d %H:%M}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # The stored name is random: the customer's file name is only ever shown, never used.
    extension = os.path.splitext(filename)[1].lower()[:8]
    return f"support/{uuid.uuid4().hex}{extension}"


class Attachment(models.Model):
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )
    file = models.FileField(_("file"), upload_to=attachment_path, storage=private_storage)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=100)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class InternalNote(models.Model):
    """What staff write down about a customer for each other (issue 16 §5): never shown to
    the customer on the portal, exported and erased with their account like their own rows."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="internal_notes",
        verbose_name=_("customer"),
    )
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="internal_notes",
        verbose_name=_("ticket"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    body = models.TextField(_("text of the note"))
    created_at = models.DateTimeField(_("written"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="internalnote_customer_newest")
        ]

    def __str__(self) -> str:
        # No text of the note: this names it in the admin's change log.
        return f"#{self.pk}" if self.pk else ""
