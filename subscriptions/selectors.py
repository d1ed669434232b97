import uuid
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
from subscriptions.services.invoices import period_amounts
from subscriptions.taxes import customer_tax


@dataclass(frozen=True)
class PricingRow:
    plan: Plan
    prices: list[Price]


@dataclass(frozen=True)
class PricingTable:
    """The offered plans of one currency as read from the catalog. `version` is new each time
    the catalog is read again, so the HTML rendered from one reading is cached under it and
    never outlives a change."""

    rows: list[PricingRow]
    version: str


# The catalog changes rarely (in the admin): the table is kept in the cache per currency,
# forgotten when a plan or price is saved or deleted, and at worst after this long.
PRICING_CACHE_SECONDS = 300


def pricing_catalog(*, currency: str) -> PricingTable:
    """The pricing table of a currency and the version it was read at, from the cache."""
    if currency not in Currency.values:
        currency = Currency.EUR
    key = f"pricing-catalog:{currency}"
    table: PricingTable | None = cache.get(key)
    if table is None:
        table = PricingTable(_pricing_table(currency), version=uuid.uuid4().hex)
        cache.set(key, table, PRICING_CACHE_SECONDS)
    return table


def pricing_table(*, currency: str) -> list[PricingRow]:
    """Offered plans with their offered prices in one currency, monthly before yearly."""
    return pricing_catalog(currency=currency).rows


def pricing_forget(**kwargs: object) -> None:
    """post_save / post_delete of Plan and Price: the next page reads the catalog again, and
    the HTML cached from the old reading is no longer named by any page."""
    cache.delete_many([f"pricing-catalog:{currency}" for currency in Currency.values])


def _pricing_table(currency: str) -> list[PricingRow]:
    plans = {plan.pk: plan for plan in Plan.objects.filter(is_active=True).order_by("rank")}
    prices = Price.objects.filter(plan__in=plans, currency=currency, is_active=True)
    by_plan: dict[int, list[Price]] = {}
    for price in sorted(prices, key=lambda p: p.interval != "month"):
        price.plan = plans[price.plan_id]  # kept with the table: no read of its plan later
        by_plan.setdefault(price.plan_id, []).append(price)
    return [PricingRow(plan, by_plan[pk]) for pk, plan in plans.items() if pk in by_plan]


def plan_change_options(rows: list[PricingRow], *, subscription: Subscription) -> list[Price]:
    """The other offered plans and intervals of the subscription's currency, taken from its
    pricing table (`rows`) so a page reads the prices once; by rank, monthly before yearly."""
    return [
        price
        for row in rows
        for price in row.prices
        if price.currency == subscription.currency and price.pk != subscription.price_id
    ]


def subscription_current(*, user: User) -> Subscription | None:
    """The customer's live subscription, else the most recent one (ended, expired)."""
    base = Subscription.objects.filter(user=user).select_related("plan", "price", "price__plan")
    subscription = (
        base.filter(status__in=LIVE_STATUSES).first() or base.order_by("-created_at").first()
    )
    if subscription is not None:
        subscription.user = user  # the customer already read: not read again through it
    return subscription


def reply_hours_current(*, user: User) -> int | None:
    """The support reply target of subscription_current's plan, read alone (the support
    pages need nothing else of it); None without a subscription."""
    base = Subscription.objects.filter(user=user).values_list(
        "plan__support_reply_hours", flat=True
    )
    hours = base.filter(status__in=LIVE_STATUSES).first()
    return hours if hours is not None else base.order_by("-created_at").first()


def billing_account(*, user: User) -> BillingAccount | None:
    billing = BillingAccount.objects.filter(user=user).first()
    if billing is not None:
        billing.user = user
    return billing


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


@dataclass(frozen=True)
class NextCharge:
    """The next charge of a subscription as the page states it. `at` None: nothing more
    will be charged, and `ends_at` says when the access ends."""

    at: datetime | None
    ends_at: datetime | None
    plan: Plan | None
    total: int  # the invoice's total, tax included, free months taken off
    from_credit: int
    by_card: int
    currency: str
    taxed: bool
    first: bool  # the first charge, when the trial ends
    scheduled_change: bool
    card_brand: str
    card_last4: str


def next_charge(
    subscription: Subscription | None, *, billing: BillingAccount | None
) -> NextCharge | None:
    """When the next charge falls, what it takes and from what: the amounts come from
    period_amounts, which the renewal's and the trial's first invoice are billed with, so
    the page says what the card will be charged. None when there is nothing to state (no
    subscription, ended, or a payment to make now, which the page shows as such)."""
    if subscription is None or subscription.status not in (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.TRIALING,
    ):
        return None
    trial = subscription.status == SubscriptionStatus.TRIALING
    if subscription.cancel_at is not None:
        return NextCharge(
            at=None,
            ends_at=subscription.cancel_at,
            plan=subscription.plan,
            total=0,
            from_credit=0,
            by_card=0,
            currency=subscription.currency,
            taxed=False,
            first=trial,
            scheduled_change=False,
            card_brand="",
            card_last4="",
        )
    at = subscription.trial_ends_at if trial else subscription.next_billing_at
    # 004: a scheduled change of plan is billed from the next renewal on.
    price = subscription.scheduled_price or subscription.price
    if at is None or price is None:
        return None  # a trial without a plan chosen: nothing will be charged
    user = subscription.user
    total, from_credit, by_card = period_amounts(subscription, price, user)
    has_card = billing is not None and billing.has_card
    return NextCharge(
        at=at,
        ends_at=None,
        plan=price.plan,
        total=total,
        from_credit=from_credit,
        by_card=by_card,
        currency=price.currency,
        taxed=customer_tax(user).taxed,
        first=trial,
        scheduled_change=subscription.scheduled_price_id is not None,
        card_brand=billing.card_brand if billing and has_card else "",
        card_last4=billing.card_last4 if billing and has_card else "",
    )
