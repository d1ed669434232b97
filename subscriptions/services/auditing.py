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
    event = audit_event(user=user, kind=kind, subscription=subscription, actor=actor, **data)
    event.save(force_insert=True)
    return event


def audit_event(
    *,
    user: User | None,
    kind: str,
    subscription: Subscription | None = None,
    actor: User | None = None,
    **data: Any,
) -> AuditEvent:
    """An event not yet written: several of one use case go in one insert (`audit_write`)."""
    return AuditEvent(user=user, actor=actor, subscription=subscription, kind=kind, data=data)


def audit_write(*events: AuditEvent) -> None:
    AuditEvent.objects.bulk_create(events)
