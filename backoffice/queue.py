"""What waits for staff, each item against its target: contract changes and refund reviews
within 5 business days (002), tickets within the plan's reply target (001). Overdue first.

A fixed number of queries whatever the queue's length."""

from dataclasses import dataclass
from datetime import datetime

from accounts.models import User
from subscriptions.models import (
    ChangeRequestStatus,
    ContractChangeRequest,
    RefundRequest,
    RefundStatus,
)
from subscriptions.services.contract_changes import change_request_due_by
from support.models import Ticket, TicketStatus

KIND_CHANGE = "change"
KIND_REFUND = "refund"
KIND_TICKET = "ticket"


@dataclass(frozen=True)
class QueueItem:
    kind: str
    pk: int
    title: str
    customer: str
    created_at: datetime
    due_at: datetime

    def overdue(self, now: datetime) -> bool:
        return self.due_at < now


@dataclass(frozen=True)
class WorkQueue:
    changes: list[QueueItem]
    refunds: list[QueueItem]
    tickets: list[QueueItem]


def _ordered(items: list[QueueItem]) -> list[QueueItem]:
    # Overdue ones come first because they are due earliest.
    return sorted(items, key=lambda item: (item.due_at, item.pk))


def work_queue(*, staff: User, now: datetime) -> WorkQueue:
    """The queues this staff member may see: three queries at most."""
    changes: list[QueueItem] = []
    refunds: list[QueueItem] = []
    tickets: list[QueueItem] = []
    # One query per queue; the loops only build rows.
    if staff.has_perm("subscriptions.view_contractchangerequest"):
        for c in ContractChangeRequest.objects.filter(
            status=ChangeRequestStatus.PENDING
        ).select_related("user", "subscription", "subscription__plan", "target_price__plan"):
            changes.append(  # noqa: PERF401
                QueueItem(
                    kind=KIND_CHANGE,
                    pk=c.pk,
                    title=f"{c.subscription.plan.name} → {c.target_price.plan.name}",
                    customer=c.user.email,
                    created_at=c.created_at,
                    due_at=change_request_due_by(c),
                )
            )
    if staff.has_perm("subscriptions.view_refundrequest"):
        for r in RefundRequest.objects.filter(
            status=RefundStatus.REVIEW, due_by__isnull=False
        ).select_related("user", "invoice"):
            refunds.append(  # noqa: PERF401
                QueueItem(
                    kind=KIND_REFUND,
                    pk=r.pk,
                    title=r.invoice.number,
                    customer=r.user.email,
                    created_at=r.created_at,
                    due_at=r.due_by,  # type: ignore[arg-type]
                )
            )
    if staff.has_perm("support.view_ticket"):
        for t in Ticket.objects.filter(
            status=TicketStatus.OPEN, user__is_active=True
        ).select_related("user"):
            tickets.append(  # noqa: PERF401
                QueueItem(
                    kind=KIND_TICKET,
                    pk=t.pk,
                    title=f"{t.reference} {t.subject}",
                    customer=t.user.email,
                    created_at=t.created_at,
                    due_at=t.reply_due_at,
                )
            )
    return WorkQueue(_ordered(changes), _ordered(refunds), _ordered(tickets))
