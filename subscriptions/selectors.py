from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import QuerySet

from accounts.models import User
from subscriptions.models import (
    LIVE_STATUSES,
    BillingAccount,
    ChangeRequestStatus,
    ContractChangeRequest,
    Currency,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Plan,
    Price,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)


@dataclass(frozen=True)
class PricingRow:
    plan: Plan
    prices: list[Price]


# The catalog changes rarely (in the admin): the table is kept in the cache per currency,
# forgotten when a plan or price is saved or deleted, and at worst after this long.
PRICING_CACHE_SECONDS = 300


def pricing_table(*, currency: str) -> list[PricingRow]:
    """Offered plans with their offered prices in one currency, monthly before yearly."""
    if currency not in Currency.values:
        currency = Currency.EUR
    key = f"pricing-table:{currency}"
    rows: list[PricingRow] | None = cache.get(key)
    if rows is None:
        rows = _pricing_table(currency)
        cache.set(key, rows, PRICING_CACHE_SECONDS)
    return rows


def pricing_forget(**kwargs: object) -> None:
    """post_save / post_delete of Plan and Price: the next page reads the catalog again."""
    cache.delete_many([f"pricing-table:{currency}" for currency in Currency.values])


def _pricing_table(currency: str) -> list[PricingRow]:
    plans = list(Plan.objects.filter(is_active=True).order_by("rank"))
    prices = Price.objects.filter(plan__in=plans, currency=currency, is_active=True)
    by_plan: dict[int, list[Price]] = {}
    for price in sorted(prices, key=lambda p: p.interval != "month"):
        by_plan.setdefault(price.plan_id, []).append(price)
    return [PricingRow(plan, by_plan[plan.pk]) for plan in plans if plan.pk in by_plan]


def subscription_current(*, user: User) -> Subscription | None:
    """The customer's live subscription, else the most recent one (ended, expired)."""
    base = Subscription.objects.filter(user=user).select_related("plan", "price", "price__plan")
    return base.filter(status__in=LIVE_STATUSES).first() or base.order_by("-created_at").first()


def billing_account(*, user: User) -> BillingAccount | None:
    return BillingAccount.objects.filter(user=user).first()


def invoice_for_user(*, user: User, number: str) -> Invoice | None:
    return (
        Invoice.objects.filter(user=user, number=number)
        .select_related("subscription", "subscription__plan")
        .first()
    )


def invoices_open(*, user: User) -> QuerySet[Invoice]:
    """What the customer can pay: a change's invoice still being settled is not one."""
    return (
        Invoice.objects.filter(user=user, status=InvoiceStatus.OPEN)
        .exclude(kind=InvoiceKind.PRORATION)
        .order_by("issued_at")
    )


def trial_days_left(subscription: Subscription, *, now: datetime) -> int:
    if subscription.status != SubscriptionStatus.TRIALING or subscription.trial_ends_at is None:
        return 0
    seconds = (subscription.trial_ends_at - now).total_seconds()
    return max(0, int(-(-seconds // 86400)))  # a day started counts as a day left


def subscription_live(*, user: User) -> Subscription | None:
    return (
        Subscription.objects.filter(user=user, status__in=LIVE_STATUSES)
        .select_related("plan", "price", "price__plan", "scheduled_price__plan")
        .first()
    )


def change_requests_pending(*, subscription: Subscription) -> QuerySet[ContractChangeRequest]:
    return ContractChangeRequest.objects.filter(
        subscription=subscription, status=ChangeRequestStatus.PENDING
    ).select_related("target_price__plan")


def refund_requests(*, user: User) -> QuerySet[RefundRequest]:
    return (
        RefundRequest.objects.filter(user=user)
        .select_related("invoice")
        .order_by("-created_at", "-pk")
    )


def guarantee_used_plan_ids(*, user: User) -> set[int]:
    """Plans this customer was refunded for under the guarantee: no guarantee again (002)."""
    if not user.is_authenticated:
        return set()
    return set(
        RefundRequest.objects.filter(user=user, rule="guarantee")
        .exclude(status=RefundStatus.REJECTED)
        .values_list("invoice__price__plan_id", flat=True)
    )
