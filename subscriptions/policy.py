"""Subscription policy: the pure rules for dates, amounts and allowed moves (DESIGN.md 4 and 6).

Plain values and ``now`` in, frozen dataclasses out: no ORM, no Stripe, no settings, no clock,
no Django and no wording (``subscriptions.wording`` tells the customer what a decision means).
Every rule names the seed it comes from (../shared/seeds/000-004, as DESIGN.md resolves them).

Time conventions:
- every datetime must be timezone-aware (ValueError otherwise);
- moments are compared as instants (UTC), whatever zone each one was given in;
- "N days after t" is Python's ``t + timedelta(days=N)``: exactly N x 24 h for a UTC ``t``,
  the same wall-clock time N days later for a ``t`` given in a zone with daylight saving;
- "n months after t" is calendar-month addition on ``t``'s own clock (``add_months``);
- proration is by the second of real elapsed time.
Money is integer minor units; fractions are exact (``Fraction``), never floats.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from subscriptions.tax_rules import (
    EU_COUNTRIES,
    TAX_RULES,
    TaxedAmount,
    TaxRule,
    TaxTreatment,
    price_tax,
    tax_treatment,
)

__all__ = [
    "EU_COUNTRIES",
    "INTERVALS",
    "TAX_RULES",
    "Charge",
    "PlanChangeMode",
    "PlanChangeQuote",
    "RefundQuote",
    "RefundRule",
    "TaxRule",
    "TaxTreatment",
    "TaxedAmount",
    "Terms",
    "TrialDates",
    "add_months",
    "business_day_deadline",
    "cancellation_date",
    "payment_retry_schedule",
    "plan_change_quote",
    "price_tax",
    "refund_quote",
    "renewal_reminder_at",
    "tax_treatment",
    "trial_dates",
]

Interval = Literal["month", "year"]
RefundRule = Literal["guarantee", "renewal_grace", "remaining_months", "none"]
PlanChangeMode = Literal["none", "review", "immediate", "next_period"]

INTERVALS: tuple[str, ...] = ("month", "year")
MONTHS_PER_INTERVAL = {"month": 1, "year": 12}
ONE_SECOND = timedelta(seconds=1)


# --- plain values in -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Terms:
    """The billing terms of a plan's price."""

    interval: str  # "month" | "year"
    commitment_months: int = 0
    guarantee_days: int = 14  # 004: 14 days; 000: 0 disables it; 002: 30
    renewal_grace_business_days: int = 5  # 002: forgotten renewal, 5 business days

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ValueError(f"interval must be 'month' or 'year', not {self.interval!r}")
        for name in ("commitment_months", "guarantee_days", "renewal_grace_business_days"):
            _require_count(name, getattr(self, name))

    @property
    def months(self) -> int:
        """Calendar months in one billing period."""
        return MONTHS_PER_INTERVAL[self.interval]


@dataclass(frozen=True, slots=True)
class Charge:
    """One payment: ``total`` is what the card was charged, tax included."""

    total: int
    paid_at: datetime
    period_start: datetime
    period_end: datetime
    tax: int = 0
    non_refundable: int = 0  # 002: one-off customisation fees are never refunded
    currency: str = "EUR"
    is_renewal: bool = False

    def __post_init__(self) -> None:
        for name in ("total", "tax", "non_refundable"):
            _require_count(name, getattr(self, name))
        _require_aware(paid_at=self.paid_at)
        _require_period(self.period_start, self.period_end)

    @property
    def refundable_base(self) -> int:
        # 002: taxes and customisation fees are never refunded; "100 %" is the subscription price
        return max(0, self.total - self.tax - self.non_refundable)


# --- decisions out ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundQuote:
    amount: int
    currency: str
    rule: str  # RefundRule
    ends_at: datetime | None  # when the subscription ends if the refund is taken; None: unchanged


@dataclass(frozen=True, slots=True)
class PlanChangeQuote:
    mode: str  # PlanChangeMode
    effective_at: datetime | None
    amount_due: int
    credit: int = 0  # unused value of the current plan beyond the new plan's price
    currency: str = "EUR"
    # Informative, left out of equality: when the plan's (new) period ends, and whether an
    # immediate change starts a new billing period (change of interval).
    renews_at: datetime | None = field(default=None, compare=False)
    starts_new_period: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class RefundBreakdown:
    """A refund as the customer reads it (002): what was paid, what comes back, what is kept
    and why: the taxes (never refunded), and the service already used or not refundable."""

    paid: int
    refunded: int
    tax_kept: int
    other_kept: int
    currency: str
    refunded_before: int = 0


def refund_breakdown(
    *, paid: int, tax: int, refunded: int, currency: str, refunded_before: int = 0
) -> RefundBreakdown:
    """Split `paid` into what this refund gives back, what earlier refunds gave back, and the
    rest kept: the tax first (002: taxes are never refunded), then the remainder."""
    _require_count("paid", paid)
    kept = max(0, paid - refunded - refunded_before)
    tax_kept = min(max(tax, 0), kept)
    return RefundBreakdown(
        paid=paid,
        refunded=refunded,
        tax_kept=tax_kept,
        other_kept=kept - tax_kept,
        currency=currency,
        refunded_before=refunded_before,
    )


@dataclass(frozen=True, slots=True)
class ShownCharge:
    """A charge as a page showed it before the customer (or staff) confirmed: its amount and
    currency, and when it is taken (`at` None: at once, on confirming)."""

    amount: int
    currency: str
    at: datetime | None = None


def charge_as_shown(shown: ShownCharge, actual: ShownCharge) -> bool:
    """Quotes before money (DESIGN 4): a charge is taken only as the page showed it: the same
    amount in the same currency, now if the page said now, on the date it gave otherwise."""
    if shown.amount != actual.amount or shown.currency != actual.currency:
        return False
    if shown.at is None or actual.at is None:
        return shown.at is None and actual.at is None
    return shown.at == actual.at


@dataclass(frozen=True, slots=True)
class TrialDates:
    ends_at: datetime
    warning_at: datetime
    purge_at: datetime


# --- calendar helpers ------------------------------------------------------------------------


def add_months(dt: datetime, n: int) -> datetime:
    """Calendar-month addition: clamped to the month's last day, time of day and tzinfo kept.

    31 January + 1 month = 28 February (29 in a leap year); 29 February 2028 + 12 = 28 February
    2029. Months are counted on ``dt``'s own clock, so pass it in the customer's zone to count
    in the customer's calendar.
    """
    _require_aware(dt=dt)
    index = dt.year * 12 + (dt.month - 1) + n
    year, month_index = divmod(index, 12)
    month = month_index + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def business_day_deadline(
    paid_at: datetime, n: int, country: str = "FR", tz: str | tzinfo = "Europe/Paris"
) -> datetime:
    """The end of the n-th business day after the local payment day, as local midnight.

    002/DESIGN 4: business days are Monday to Friday minus the public holidays of the customer's
    country; the payment day itself is not counted; the window closes at midnight in ``tz`` at
    the end of the n-th business day. ``country`` is an ISO code, optionally with a subdivision
    ("GB-ENG").
    """
    _require_aware(paid_at=paid_at)
    _require_count("n", n)
    zone = time_zone(tz)
    day = _instant(paid_at).astimezone(zone).date()
    public_holidays = _public_holidays(country, day.year)
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in public_holidays:
            counted += 1
    return _local_midnight(day + timedelta(days=1), zone)


# --- refunds ---------------------------------------------------------------------------------


def refund_quote(
    terms: Terms,
    charge: Charge,
    *,
    first_paid_at: datetime,
    now: datetime,
    guarantee_used: bool = False,
    country: str = "FR",
    tz: str | tzinfo = "Europe/Paris",
) -> RefundQuote:
    """What refunding ``charge`` now would give back, under which rule, and when service ends.

    Rules in order: guarantee, renewal_grace, remaining_months, else none.
    """
    _require_aware(first_paid_at=first_paid_at, now=now)
    zone = time_zone(tz)
    _public_holidays(country, _instant(now).year)  # an unknown country is an error either way
    base = charge.refundable_base
    moment = _instant(now)

    # 004: 100 % within the guarantee window (inclusive to the second) from the first paid
    # start, for any reason, service ends at once; 000: 0 days disables it; 002: a customer
    # already refunded under the guarantee gets none again.
    if terms.guarantee_days > 0 and not guarantee_used:
        window_end = first_paid_at + timedelta(days=terms.guarantee_days)
        if moment <= _instant(window_end):
            return RefundQuote(base, charge.currency, "guarantee", now)

    # 002: a forgotten renewal is refunded in full (last payment only) if asked before the end
    # of the N-th business day after its payment day, whatever the commitment; service ends.
    if charge.is_renewal and terms.renewal_grace_business_days > 0:
        deadline = business_day_deadline(
            charge.paid_at, terms.renewal_grace_business_days, country, zone
        )
        if moment < _instant(deadline):
            return RefundQuote(base, charge.currency, "renewal_grace", now)

    # 004: yearly without commitment: nothing for the current month, the full calendar months
    # left after it refunded pro rata, rounded down; service runs to the end of this month.
    # 000: under a commitment nothing is refunded; 004: monthly, nothing for the current month.
    # Asked before the period starts (a payment taken in advance), the current month is the
    # period's first, as in cancellation_date: the two always tell the same story.
    if terms.interval == "year" and terms.commitment_months == 0:
        start, end = charge.period_start, charge.period_end
        if moment < _instant(end):
            total_months = _whole_months(start, end)
            current = _current_month(start, now)
            left = total_months - (current + 1)
            if left > 0:
                return RefundQuote(
                    base * left // total_months,
                    charge.currency,
                    "remaining_months",
                    add_months(start, current + 1),
                )

    return RefundQuote(0, charge.currency, "none", None)


def later_charge_refund(charge: Charge, *, service_ends: datetime) -> int:
    """A charge made during a period (an upgrade, months charged again) covers up to the
    period's end: refunded pro rata by the second for the time after the service ends,
    rounded down, as the upgrade itself was prorated by the second (004)."""
    _require_aware(service_ends=service_ends)
    start, end = _instant(charge.period_start), _instant(charge.period_end)
    ends = min(max(_instant(service_ends), start), end)
    span = int((end - start).total_seconds())
    if span <= 0:
        return 0
    unused = int((end - ends).total_seconds())
    return charge.refundable_base * unused // span


def refund_quote_holds_until(
    terms: Terms,
    charge: Charge,
    quote: RefundQuote,
    *,
    first_paid_at: datetime,
    country: str = "FR",
    tz: str | tzinfo = "Europe/Paris",
) -> datetime | None:
    """The last moment ``quote`` (from ``refund_quote``) stays true: the guarantee's last second
    (002/004), the renewal grace's last moment (002), the end of the current month for the
    remaining months (004). None when nothing is due, which does not change."""
    if quote.rule == "guarantee":
        return first_paid_at + timedelta(days=terms.guarantee_days)
    if quote.rule == "renewal_grace":
        deadline = business_day_deadline(
            charge.paid_at, terms.renewal_grace_business_days, country, time_zone(tz)
        )
        return deadline - timedelta(seconds=1)
    if quote.rule == "remaining_months" and quote.ends_at is not None:
        return quote.ends_at - timedelta(seconds=1)
    return None


# --- cancellation ----------------------------------------------------------------------------


def cancellation_date(
    terms: Terms, *, period_start: datetime, period_end: datetime, now: datetime
) -> datetime:
    """When the service ends if the customer cancels now.

    Within the period the result is never before ``now`` nor after ``period_end``. Once the
    period is over (``now >= period_end``) it is ``period_end``: nothing more runs. Before the
    period starts, the current month is the period's first.
    """
    _require_aware(now=now)
    _require_period(period_start, period_end)
    # 004: monthly runs to the end of the paid month; 000: a commitment runs to the end of its
    # 12-month term (automatic renewal off, no early termination).
    if terms.interval == "month" or terms.commitment_months > 0:
        return period_end
    if _instant(now) >= _instant(period_end):
        return period_end
    # 004: yearly without commitment runs to the end of the current month of the period.
    current = _current_month(period_start, now)
    month_end = add_months(period_start, current + 1)
    return period_end if _instant(month_end) > _instant(period_end) else month_end


# --- plan changes ----------------------------------------------------------------------------


def plan_change_quote(
    current_terms: Terms,
    current_rank: int,
    current_price: int,
    target_terms: Terms,
    target_rank: int,
    target_price: int,
    *,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    currency: str = "EUR",
) -> PlanChangeQuote:
    """What moving from the current plan and price to the target one means now.

    Prices are the full price of one period of each plan's own interval. ``period_start`` and
    ``period_end`` are the current paid period.
    """
    _require_aware(now=now)
    _require_period(period_start, period_end)
    _require_count("current_price", current_price)
    _require_count("target_price", target_price)

    if current_rank == target_rank and current_terms == target_terms:
        return PlanChangeQuote("none", None, 0, currency=currency)
    # 000: under a commitment there is no self-service change: staff review a change request.
    if current_terms.commitment_months > 0:
        return PlanChangeQuote("review", None, 0, currency=currency)
    # 004/001: an upgrade takes effect at once, prorated by the second.
    if target_rank > current_rank:
        length = (_instant(period_end) - _instant(period_start)) // ONE_SECOND
        left = (_instant(period_end) - _instant(now)) // ONE_SECOND
        unused = Fraction(min(max(left, 0), length), length) if length else Fraction(0)
        if current_terms.interval == target_terms.interval:
            # Same interval: the price difference for the time left in the period.
            due = (target_price - current_price) * unused
            renews_at, new_period = period_end, False
        else:
            # Other interval: a new period of the target plan starts now, less the unused part
            # of the current payment.
            due = target_price - current_price * unused
            renews_at, new_period = add_months(now, target_terms.months), True
        rounded = _round_half_up(due)
        return PlanChangeQuote(
            "immediate",
            now,
            max(rounded, 0),
            credit=max(-rounded, 0),
            currency=currency,
            renews_at=renews_at,
            starts_new_period=new_period,
        )
    # 004: a downgrade (or a same-rank change of terms) starts with the next billing period.
    return PlanChangeQuote(
        "next_period",
        period_end,
        0,
        currency=currency,
        renews_at=add_months(period_end, target_terms.months),
    )


# --- schedules -------------------------------------------------------------------------------


def payment_retry_schedule(
    failed_at: datetime, *, days: tuple[int, ...] = (1, 3, 7)
) -> tuple[datetime, ...]:
    """004: a failed payment is retried up to 3 times over 7 days: days 1, 3 and 7 after it."""
    _require_aware(failed_at=failed_at)
    if not days or any(b <= a for a, b in pairwise(days)) or days[0] <= 0:
        raise ValueError("retry days must be positive and strictly increasing")
    return tuple(failed_at + timedelta(days=d) for d in days)


def trial_dates(
    started_at: datetime,
    *,
    length_days: int = 15,
    warning_days: int = 3,
    purge_grace_days: int = 7,
) -> TrialDates:
    """001: a 15-day trial, a warning e-mail 3 days before its end, data purged after a grace."""
    _require_aware(started_at=started_at)
    for name, value in (
        ("length_days", length_days),
        ("warning_days", warning_days),
        ("purge_grace_days", purge_grace_days),
    ):
        _require_count(name, value)
    ends_at = started_at + timedelta(days=length_days)
    return TrialDates(
        ends_at=ends_at,
        warning_at=ends_at - timedelta(days=warning_days),
        purge_at=ends_at + timedelta(days=purge_grace_days),
    )


def renewal_reminder_at(
    terms: Terms, *, period_end: datetime, yearly_days: int = 7, monthly_days: int = 3
) -> datetime:
    """002/004: a reminder with the amount before each renewal: 7 days (year), 3 days (month)."""
    _require_aware(period_end=period_end)
    days = yearly_days if terms.interval == "year" else monthly_days
    _require_count("reminder days", days)
    return period_end - timedelta(days=days)


# --- internals -------------------------------------------------------------------------------


def _require_aware(**values: datetime) -> None:
    for name, value in values.items():
        if not isinstance(value, datetime):
            raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")


def _require_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")


def _require_period(period_start: datetime, period_end: datetime) -> None:
    _require_aware(period_start=period_start, period_end=period_end)
    if _instant(period_end) <= _instant(period_start):
        raise ValueError("period_end must be after period_start")


def _instant(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def time_zone(tz: str | tzinfo) -> tzinfo:
    """A zone by name (or as is); ValueError for an unknown one."""
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    # Round-trip through UTC so a midnight skipped by a clock change becomes a real time.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC).astimezone(zone)


@lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> holidays.HolidayBase:
    code, _sep, subdivision = country.upper().partition("-")
    try:
        # expand=True (the default) adds later years as they are looked up.
        return holidays.country_holidays(code, subdiv=subdivision or None, years=year)
    except NotImplementedError as exc:
        raise ValueError(f"unknown country or subdivision {country!r}") from exc


def _whole_months(start: datetime, moment: datetime) -> int:
    """The number of whole calendar months from ``start`` to ``moment`` (>= 0)."""
    target = _instant(moment)
    local = target.astimezone(start.tzinfo)
    months = max(0, (local.year - start.year) * 12 + local.month - start.month)
    while months > 0 and _instant(add_months(start, months)) > target:
        months -= 1
    while _instant(add_months(start, months + 1)) <= target:
        months += 1
    return months


def _current_month(start: datetime, now: datetime) -> int:
    """Which calendar month of a period starting at ``start`` ``now`` is in (0-based).

    Before the period starts, the first month (0).
    """
    return _whole_months(start, now) if _instant(now) >= _instant(start) else 0


def _round_half_up(value: Fraction) -> int:
    """Nearest integer, halves away from zero (1.5 -> 2, -1.5 -> -2)."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude
