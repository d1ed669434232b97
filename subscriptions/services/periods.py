"""Terms and billing periods of a price, and closing pending contract changes (000)."""

from datetime import datetime

from subscriptions import policy
from subscriptions.models import ChangeRequestStatus, ContractChangeRequest, Price, Subscription

# --- terms and periods -----------------------------------------------------------------------


def price_terms(price: Price) -> policy.Terms:
    return policy.Terms(
        interval=price.interval,
        commitment_months=price.commitment_months,
        guarantee_days=price.guarantee_days,
        renewal_grace_business_days=price.renewal_grace_business_days,
    )


def period_bounds(*, anchor: datetime, index: int, price: Price) -> tuple[datetime, datetime]:
    """Period `index` of a subscription anchored at `anchor`: calendar months, clamped."""
    months = policy.MONTHS_PER_INTERVAL[price.interval]
    return (
        policy.add_months(anchor, index * months),
        policy.add_months(anchor, (index + 1) * months),
    )


def pending_changes_close(subscription: Subscription) -> int:
    """A subscription that ends (or will end) has no contract left to change: its pending
    change requests are withdrawn, so staff cannot approve one afterwards (000)."""
    return ContractChangeRequest.objects.filter(
        subscription=subscription, status=ChangeRequestStatus.PENDING
    ).update(status=ChangeRequestStatus.WITHDRAWN)
