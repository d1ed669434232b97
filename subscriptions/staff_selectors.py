"""Reads for the staff's work: decision targets counted as the customer was told (002)."""

from subscriptions.models import AuditEvent, ContractChangeRequest


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
