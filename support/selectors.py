"""Reads for the support pages: every query starts from the logged-in customer."""

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from support.models import Attachment, Message, Ticket


def ticket_list_for_user(*, user: User) -> QuerySet[Ticket]:
    return Ticket.objects.filter(user=user).order_by("-created_at", "-pk")


def ticket_for_user(*, user: User, pk: int) -> Ticket | None:
    return Ticket.objects.filter(user=user, pk=pk).first()


def ticket_messages(*, ticket: Ticket) -> QuerySet[Message]:
    return (
        Message.objects.filter(ticket=ticket)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("pk")))
        .order_by("created_at", "pk")
    )


def attachment_for_user(*, user: User, pk: int) -> Attachment | None:
    """The customer's own attachment; staff may read any (they answer in the admin)."""
    attachments = Attachment.objects.filter(pk=pk)
    if not user.is_staff:
        attachments = attachments.filter(message__ticket__user=user)
    return attachments.first()
