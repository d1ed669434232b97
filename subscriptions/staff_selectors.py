"""Reads for the staff's work: decision targets counted as the customer was told (002)."""

from datetime import datetime

from subscriptions import policy
from subscriptions.models import AuditEvent, ContractChangeRequest
from subscriptions.services.refund_quotes import REVIEW_BUSINESS_DAYS, holiday_country


def change_request_due_by(change: ContractChangeRequest) -> datetime:
    """002: a reviewed request gets its answer within 5 business days of the customer's
    country, counted like a refund review's `due_by`."""
    user = change.user
    return policy.business_day_deadline(
        change.created_at, REVIEW_BUSINESS_DAYS, holiday_country(user.country), user.time_zone
    )


def change_request_applied(change: ContractChangeRequest) -> AuditEvent | None:
    """The plan change an approval made (with what was charged or credited), if any."""
    if change.decided_at is None:
        return None
    return (
        AuditEvent.objects.filter(
            subscription_id=change.subscription_id,
            kind="plan_changed",
            created_at__gte=change.decided_at,
        )
        .order_by("created_at", "pk")
        .first()
    )
