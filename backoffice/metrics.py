"""The business in numbers, from the portal's own tables: one query per figure whatever the
number of rows, every month of the last 12 (the staff's time zone), by currency for money.

MRR counts what is billed before tax for the periods running at each month's end: a monthly
invoice's subtotal, a twelfth of a yearly one (DESIGN 3: yearly plans counted as twelfths).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from fractions import Fraction

from django.db.models import Q

from subscriptions.models import (
    AttemptStatus,
    ChangeRequestStatus,
    ContractChangeRequest,
    Interval,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    RefundRequest,
    RefundStatus,
    Subscription,
)
from subscriptions.policy import add_months

MONTHS = 12


@dataclass(frozen=True)
class Month:
    start: datetime  # local midnight on the 1st, aware
    end: datetime  # the next month's start

    @property
    def key(self) -> date:
        return self.start.date()


def months_back(now: datetime, zone: tzinfo, count: int = MONTHS) -> list[Month]:
    """The current month and the count - 1 before it, oldest first."""
    local = now.astimezone(zone)
    first = datetime(local.year, local.month, 1, tzinfo=zone)
    starts = [add_months(first, -n) for n in range(count - 1, -1, -1)]
    return [Month(s, add_months(s, 1)) for s in starts]


def _month_of(moment: datetime | None, months: list[Month]) -> Month | None:
    if moment is None:
        return None
    for month in months:
        if month.start <= moment < month.end:
            return month
    return None


def _round(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@dataclass
class Series:
    """One figure per month for each key (a currency, a plan, a rule, an outcome)."""

    months: list[Month]
    values: dict[str, dict[date, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, key: str, month: Month, amount: int) -> None:
        row = self.values[key]
        row[month.key] = row.get(month.key, 0) + amount

    def get(self, key: str, month: Month) -> int:
        return self.values.get(key, {}).get(month.key, 0)

    @property
    def keys(self) -> list[str]:
        return sorted(self.values)


def mrr(*, now: datetime, zone: tzinfo) -> tuple[Series, Series, Series]:
    """(MRR by currency, ARR by currency, paid subscriptions by plan code) at each month's
    end, or now for the current month. ARR is 12 x the exact MRR, rounded once."""
    months = months_back(now, zone)
    window_start, window_end = months[0].start, months[-1].end
    rows = (
        Invoice.objects.filter(
            kind__in=[InvoiceKind.FIRST, InvoiceKind.RENEWAL],
            status=InvoiceStatus.PAID,
            period_start__lt=window_end,
            period_end__gt=window_start,
        )
        .exclude(price__isnull=True)
        .values_list(
            "currency",
            "subtotal",
            "period_start",
            "period_end",
            "price__interval",
            "price__plan__code",
            "subscription_id",
        )
    )
    money: dict[tuple[str, date], Fraction] = defaultdict(Fraction)
    plans: dict[tuple[str, date], set[int]] = defaultdict(set)
    for currency, subtotal, start, end, interval, plan, sub_id in rows:
        monthly = Fraction(subtotal, 12) if interval == Interval.YEAR else Fraction(subtotal)
        for month in months:
            at = min(month.end, now)
            if start <= at < end:
                money[(currency, month.key)] += monthly
                plans[(plan, month.key)].add(sub_id)
    revenue, annual, live = Series(months), Series(months), Series(months)
    for month in months:
        for (currency, key), value in money.items():
            if key == month.key:
                revenue.add(currency, month, _round(value))
                annual.add(currency, month, _round(12 * value))
        for (plan, key), subs in plans.items():
            if key == month.key:
                live.add(plan, month, len(subs))
    return revenue, annual, live


def trials(*, now: datetime, zone: tzinfo) -> Series:
    """Trials started each month, and of those how many became paid ("converted")."""
    months = months_back(now, zone)
    series = Series(months)
    rows = Subscription.objects.filter(
        trial_started_at__gte=months[0].start, trial_started_at__lt=months[-1].end
    ).values_list("trial_started_at", "first_paid_at")
    for started, paid in rows:
        month = _month_of(started, months)
        if month is not None:
            series.add("started", month, 1)
            series.add("converted", month, 1 if paid is not None else 0)
    return series


def churn(*, now: datetime, zone: tzinfo) -> tuple[Series, list[str]]:
    """Cancellations asked each month (with or without a reason), and the reasons given."""
    months = months_back(now, zone)
    series = Series(months)
    reasons: list[str] = []
    rows = (
        Subscription.objects.filter(
            cancel_requested_at__gte=months[0].start, cancel_requested_at__lt=months[-1].end
        )
        .order_by("-cancel_requested_at")
        .values_list("cancel_requested_at", "cancel_reason")
    )
    for asked, reason in rows:
        month = _month_of(asked, months)
        if month is None:
            continue
        series.add("cancellations", month, 1)
        if reason.strip():
            series.add("with_reason", month, 1)
            reasons.append(reason.strip())
    return series, reasons


def refunds(*, now: datetime, zone: tzinfo) -> tuple[Series, Series]:
    """Refunds made each month: (count by rule, amount by currency)."""
    months = months_back(now, zone)
    by_rule, amounts = Series(months), Series(months)
    rows = RefundRequest.objects.filter(
        status=RefundStatus.SUCCEEDED,
        refunded_at__gte=months[0].start,
        refunded_at__lt=months[-1].end,
    ).values_list("refunded_at", "rule", "amount", "currency")
    for at, rule, amount, currency in rows:
        month = _month_of(at, months)
        if month is not None:
            by_rule.add(rule, month, 1)
            amounts.add(currency, month, amount)
    return by_rule, amounts


def recovered(*, now: datetime, zone: tzinfo) -> tuple[Series, Series]:
    """Failed payments recovered by the automatic retries (004): (count, amount by currency)."""
    months = months_back(now, zone)
    counts, amounts = Series(months), Series(months)
    rows = PaymentAttempt.objects.filter(
        trigger="retry",
        status=AttemptStatus.SUCCEEDED,
        created_at__gte=months[0].start,
        created_at__lt=months[-1].end,
    ).values_list("created_at", "amount", "currency")
    for at, amount, currency in rows:
        month = _month_of(at, months)
        if month is not None:
            counts.add("recovered", month, 1)
            amounts.add(currency, month, amount)
    return counts, amounts


def change_requests(*, now: datetime, zone: tzinfo) -> Series:
    """Contract change requests by outcome: decided ones in the month of the decision,
    waiting and withdrawn ones in the month they were filed."""
    months = months_back(now, zone)
    series = Series(months)
    rows = ContractChangeRequest.objects.filter(
        Q(decided_at__gte=months[0].start, decided_at__lt=months[-1].end)
        | Q(
            decided_at__isnull=True,
            created_at__gte=months[0].start,
            created_at__lt=months[-1].end,
        )
    ).values_list("status", "decided_at", "created_at")
    for status, decided, created in rows:
        decided_status = status in (ChangeRequestStatus.APPROVED, ChangeRequestStatus.REJECTED)
        month = _month_of(decided if decided_status else created, months)
        if month is not None:
            series.add(status, month, 1)
    return series


def counter_total(series: Series) -> Counter[str]:
    return Counter({key: sum(series.values[key].values()) for key in series.keys})
