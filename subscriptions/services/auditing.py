"""The audit trail: one event for each change, written by every use case below."""

from typing import Any

from accounts.models import User
from subscriptions.models import AuditEvent, Subscription

# --- audit -----------------------------------------------------------------------------------


def audit(
    *,
    user: User | None,
    kind: str,
    subscription: Subscription | None = None,
    actor: User | None = None,
    **data: Any,
) -> AuditEvent:
    return AuditEvent.objects.create(
        user=user, actor=actor, subscription=subscription, kind=kind, data=data
    )
