"""The one place that answers "may this customer use this feature now?"."""

from accounts.models import User
from subscriptions.models import Feature, Subscription, SubscriptionStatus

# 004: while retries run the customer keeps the plan; suspended, expired or ended: nothing.
PAID_ACCESS = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def features_for(subscription: Subscription | None) -> frozenset[str]:
    if subscription is None:
        return frozenset()
    if subscription.status == SubscriptionStatus.TRIALING:
        # 001: everything is available during the trial except SMS reminders.
        return frozenset(Feature.values) - {Feature.SMS_REMINDERS}
    if subscription.status in PAID_ACCESS:
        return frozenset(subscription.plan.features)
    return frozenset()


def has_feature(customer: User, feature: str) -> bool:
    subscription = (
        Subscription.objects.filter(
            user=customer, status__in=[SubscriptionStatus.TRIALING, *PAID_ACCESS]
        )
        .select_related("plan")
        .first()
    )
    return feature in features_for(subscription)
