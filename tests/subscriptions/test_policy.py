"""The policy rules as one table of cases (DESIGN.md sections 4 and 6), no database.

Each row names the seed its rule comes from and why the case matters. docs/policy.md quotes
rows of this table by id; tests/subscriptions/test_policy_docs.py keeps the two in step.
Expected values are worked out by hand in the comments, not computed by the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from subscriptions.money import format_money
from subscriptions.policy import (
    Charge,
    PlanChangeQuote,
    RefundQuote,
    Terms,
    TrialDates,
    add_months,
    business_day_deadline,
    cancellation_date,
    later_charge_refund,
    payment_retry_schedule,
    plan_change_quote,
    refund_quote,
    refund_quote_holds_until,
    renewal_reminder_at,
    trial_dates,
)

PARIS = ZoneInfo("Europe/Paris")
LONDON = ZoneInfo("Europe/London")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def paris(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


def london(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


MONTHLY = Terms("month")  # Pro / Premium monthly: 14-day guarantee, no commitment (004)
YEARLY = Terms("year")  # Pro / Premium yearly without commitment (004)
COMMITTED = Terms("year", commitment_months=12)  # Starter / Standard (000)
COMMITTED_NO_GUARANTEE = Terms("year", commitment_months=12, guarantee_days=0)  # 000 as written

# Plan ranks (Starter < Standard < Pro < Premium) and prices in cents.
FREE, STARTER, STANDARD, PRO, PREMIUM = 0, 10, 20, 30, 40
PRO_MONTH, PREMIUM_MONTH = 2900, 4900
PRO_YEAR, PREMIUM_YEAR = 29000, 49000
STARTER_YEAR, STANDARD_YEAR = 19000, 29900


@dataclass(frozen=True)
class Case:
    id: str
    seed: str  # "000".."004", or "6" for the calendar arithmetic of DESIGN.md section 6
    reason: str
    call: Callable[..., Any]
    kwargs: dict[str, Any] = field(hash=False)
    expected: Any = field(hash=False)


def none(currency: str = "EUR") -> RefundQuote:
    return RefundQuote(0, currency, "none", None)


def refund(
    id: str,
    seed: str,
    reason: str,
    *,
    terms: Terms,
    charge: Charge,
    now: datetime,
    expected: RefundQuote,
    first_paid_at: datetime | None = None,
    guarantee_used: bool = False,
    country: str = "FR",
    tz: str = "Europe/Paris",
) -> Case:
    kwargs = {
        "terms": terms,
        "charge": charge,
        "first_paid_at": first_paid_at or charge.paid_at,
        "now": now,
        "guarantee_used": guarantee_used,
        "country": country,
        "tz": tz,
    }
    return Case(id, seed, reason, refund_quote, kwargs, expected)


def change(
    id: str,
    seed: str,
    reason: str,
    current: tuple[Terms, int, int],
    target: tuple[Terms, int, int],
    *,
    period: tuple[datetime, datetime],
    now: datetime,
    expected: PlanChangeQuote,
    currency: str = "EUR",
) -> Case:
    kwargs = {
        "current_terms": current[0],
        "current_rank": current[1],
        "current_price": current[2],
        "target_terms": target[0],
        "target_rank": target[1],
        "target_price": target[2],
        "period_start": period[0],
        "period_end": period[1],
        "now": now,
        "currency": currency,
    }
    return Case(id, seed, reason, plan_change_quote, kwargs, expected)


def cancel(
    id: str,
    seed: str,
    reason: str,
    *,
    terms: Terms,
    period: tuple[datetime, datetime],
    now: datetime,
    expected: datetime,
) -> Case:
    kwargs = {"terms": terms, "period_start": period[0], "period_end": period[1], "now": now}
    return Case(id, seed, reason, cancellation_date, kwargs, expected)


# Charges reused below. A first payment starts its period; renewals carry is_renewal.
MARCH_MONTH = Charge(PREMIUM_MONTH, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2026, 4, 2, 9))
MARCH_YEAR = Charge(PREMIUM_YEAR, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9))
JAN31_YEAR = Charge(PREMIUM_YEAR, utc(2026, 1, 31, 10), utc(2026, 1, 31, 10), utc(2027, 1, 31, 10))
JAN31_LEAP_YEAR = Charge(
    PREMIUM_YEAR, utc(2028, 1, 31, 10), utc(2028, 1, 31, 10), utc(2029, 1, 31, 10)
)
FEB29_YEAR = Charge(PREMIUM_YEAR, utc(2028, 2, 29, 10), utc(2028, 2, 29, 10), utc(2029, 2, 28, 10))
PARIS_YEAR = Charge(
    PREMIUM_YEAR, paris(2026, 1, 15, 0, 30), paris(2026, 1, 15, 0, 30), paris(2027, 1, 15, 0, 30)
)
LONG_AGO = utc(2025, 1, 4, 8)  # a first payment whose guarantee is long over


def renewal(paid_at: datetime, end: datetime, total: int = PREMIUM_MONTH, **kw: Any) -> Charge:
    return Charge(total, paid_at, paid_at, end, is_renewal=True, **kw)


# Renewal payments for the business-day windows (002). Paris is UTC+1 in winter, +2 in summer.
ASCENSION_RENEWAL = renewal(utc(2026, 5, 11, 6), utc(2026, 6, 11, 6))  # Mon 11 May, 08:00 Paris
JUNE_RENEWAL = renewal(utc(2026, 6, 4, 8), utc(2026, 7, 4, 8))  # Thu 4 June, 10:00 Paris
LATE_NIGHT_RENEWAL = renewal(utc(2026, 6, 4, 22, 30), utc(2026, 7, 4, 22, 30))  # Fri 00:30 Paris
MAY_DAY_RENEWAL = renewal(utc(2026, 5, 1, 9), utc(2026, 6, 1, 9))  # Fri 1 May, 10:00 London
MARCH_DST_RENEWAL = renewal(utc(2026, 3, 24, 9), utc(2026, 4, 24, 9))  # Tue 24 March, 10:00 CET
OCTOBER_DST_RENEWAL = renewal(utc(2026, 10, 21, 8), utc(2026, 11, 21, 8))  # Wed 21 Oct, 10:00

MONTH_PERIOD = (utc(2026, 4, 1), utc(2026, 5, 1))  # 30 days = 2,592,000 s
YEAR_PERIOD = (utc(2026, 1, 1), utc(2027, 1, 1))  # 365 days = 31,536,000 s


CASES: list[Case] = [
    # --- refund: the money-back guarantee (004; 000 disables it; 002 widens it) -------------
    refund(
        "guarantee-first-hour",
        "004",
        "an hour after the first payment: 100 % back, service ends now",
        terms=MONTHLY,
        charge=MARCH_MONTH,
        now=utc(2026, 3, 2, 10),
        expected=RefundQuote(4900, "EUR", "guarantee", utc(2026, 3, 2, 10)),
    ),
    refund(
        "guarantee-day14-exact-second",
        "004",
        "paid 2 March 09:00 UTC; 16 March 09:00:00 UTC is still inside (inclusive)",
        terms=MONTHLY,
        charge=MARCH_MONTH,
        now=utc(2026, 3, 16, 9),
        expected=RefundQuote(4900, "EUR", "guarantee", utc(2026, 3, 16, 9)),
    ),
    refund(
        "guarantee-day14-one-second-after-monthly",
        "004",
        "one second after the window, monthly: nothing for the current month",
        terms=MONTHLY,
        charge=MARCH_MONTH,
        now=utc(2026, 3, 16, 9, 0, 1),
        expected=none(),
    ),
    refund(
        "guarantee-yearly-day14-exact-second",
        "004",
        "yearly plan on the last second of the guarantee: the whole year back",
        terms=YEARLY,
        charge=MARCH_YEAR,
        now=utc(2026, 3, 16, 9),
        expected=RefundQuote(49000, "EUR", "guarantee", utc(2026, 3, 16, 9)),
    ),
    refund(
        "guarantee-yearly-day14-one-second-after",
        "004",
        "one second later a yearly plan falls to remaining months: 49000 x 11 / 12 = 44916.67",
        terms=YEARLY,
        charge=MARCH_YEAR,
        now=utc(2026, 3, 16, 9, 0, 1),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2026, 4, 2, 9)),
    ),
    refund(
        "guarantee-zero-days-disables",
        "000",
        "guarantee_days=0 (Starter as 000 writes it): nothing, even an hour after paying",
        terms=COMMITTED_NO_GUARANTEE,
        charge=Charge(STARTER_YEAR, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9)),
        now=utc(2026, 3, 2, 10),
        expected=none(),
    ),
    refund(
        "guarantee-thirty-days-day29",
        "002",
        "a 30-day window (002): day 29 is inside",
        terms=Terms("year", guarantee_days=30),
        charge=MARCH_YEAR,
        now=utc(2026, 3, 31, 9),
        expected=RefundQuote(49000, "EUR", "guarantee", utc(2026, 3, 31, 9)),
    ),
    refund(
        "guarantee-thirty-days-one-second-after",
        "002",
        "2 March + 30 days = 1 April 09:00; a second later: remaining months (11 of 12)",
        terms=Terms("year", guarantee_days=30),
        charge=MARCH_YEAR,
        now=utc(2026, 4, 1, 9, 0, 1),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2026, 4, 2, 9)),
    ),
    refund(
        "guarantee-used-monthly",
        "002",
        "already refunded under the guarantee for this plan: no second guarantee",
        terms=MONTHLY,
        charge=MARCH_MONTH,
        now=utc(2026, 3, 3, 9),
        guarantee_used=True,
        expected=none(),
    ),
    refund(
        "guarantee-used-yearly",
        "002",
        "guarantee used: a yearly plan still gets its remaining months",
        terms=YEARLY,
        charge=MARCH_YEAR,
        now=utc(2026, 3, 3, 9),
        guarantee_used=True,
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2026, 4, 2, 9)),
    ),
    refund(
        "guarantee-under-commitment",
        "004",
        "a committed plan with a 14-day window: the guarantee comes before the commitment",
        terms=COMMITTED,
        charge=Charge(STARTER_YEAR, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9)),
        now=utc(2026, 3, 5, 9),
        expected=RefundQuote(19000, "EUR", "guarantee", utc(2026, 3, 5, 9)),
    ),
    refund(
        "guarantee-excludes-tax",
        "002",
        "58.80 charged with 9.80 VAT: 49.00 refunded, taxes are never refunded",
        terms=MONTHLY,
        charge=Charge(5880, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2026, 4, 2, 9), tax=980),
        now=utc(2026, 3, 4, 9),
        expected=RefundQuote(4900, "EUR", "guarantee", utc(2026, 3, 4, 9)),
    ),
    refund(
        "guarantee-excludes-customisation-fee",
        "002",
        "768.00 = 490.00 plan + 150.00 customisation + 128.00 VAT: 490.00 refunded",
        terms=YEARLY,
        charge=Charge(
            76800,
            utc(2026, 3, 2, 9),
            utc(2026, 3, 2, 9),
            utc(2027, 3, 2, 9),
            tax=12800,
            non_refundable=15000,
        ),
        now=utc(2026, 3, 4, 9),
        expected=RefundQuote(49000, "EUR", "guarantee", utc(2026, 3, 4, 9)),
    ),
    refund(
        "guarantee-zero-priced-plan",
        "004",
        "a free plan: the guarantee applies (service ends now) and refunds nothing",
        terms=MONTHLY,
        charge=Charge(0, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2026, 4, 2, 9)),
        now=utc(2026, 3, 4, 9),
        expected=RefundQuote(0, "EUR", "guarantee", utc(2026, 3, 4, 9)),
    ),
    refund(
        "guarantee-base-never-negative",
        "002",
        "tax and fees above the total: the base is 0, never negative",
        terms=MONTHLY,
        charge=Charge(
            1000,
            utc(2026, 3, 2, 9),
            utc(2026, 3, 2, 9),
            utc(2026, 4, 2, 9),
            tax=600,
            non_refundable=600,
        ),
        now=utc(2026, 3, 4, 9),
        expected=RefundQuote(0, "EUR", "guarantee", utc(2026, 3, 4, 9)),
    ),
    refund(
        "guarantee-counts-from-first-payment",
        "004",
        "a charge on 10 March for a customer first paid on 2 February: window closed 16 Feb",
        terms=MONTHLY,
        charge=Charge(PREMIUM_MONTH, utc(2026, 3, 10), utc(2026, 3, 10), utc(2026, 4, 10)),
        first_paid_at=utc(2026, 2, 2, 9),
        now=utc(2026, 3, 11),
        expected=none(),
    ),
    refund(
        "guarantee-usd",
        "000",
        "the quote keeps the charge's currency (EUR, USD, GBP)",
        terms=MONTHLY,
        charge=Charge(
            5500, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2026, 4, 2, 9), currency="USD"
        ),
        now=utc(2026, 3, 3),
        expected=RefundQuote(5500, "USD", "guarantee", utc(2026, 3, 3)),
    ),
    refund(
        "guarantee-paris-wall-clock",
        "004",
        "paid 20 March 10:00 Paris (CET); 14 days later is 3 April 10:00 Paris (CEST)",
        terms=MONTHLY,
        charge=Charge(
            PREMIUM_MONTH, paris(2026, 3, 20, 10), paris(2026, 3, 20, 10), paris(2026, 4, 20, 10)
        ),
        now=paris(2026, 4, 3, 10),
        expected=RefundQuote(4900, "EUR", "guarantee", paris(2026, 4, 3, 10)),
    ),
    refund(
        "guarantee-paris-wall-clock-one-second-after",
        "004",
        "across the March clock change the window ends at 10:00 local, not 11:00",
        terms=MONTHLY,
        charge=Charge(
            PREMIUM_MONTH, paris(2026, 3, 20, 10), paris(2026, 3, 20, 10), paris(2026, 4, 20, 10)
        ),
        now=paris(2026, 4, 3, 10, 0, 1),
        expected=none(),
    ),
    refund(
        "guarantee-beats-renewal-grace",
        "002",
        "a 30-day window still open on the first renewal: the guarantee wins",
        terms=Terms("month", guarantee_days=30),
        charge=renewal(utc(2026, 5, 1, 8), utc(2026, 6, 1, 8)),
        first_paid_at=utc(2026, 4, 1, 8),
        now=utc(2026, 5, 1, 8),
        expected=RefundQuote(4900, "EUR", "guarantee", utc(2026, 5, 1, 8)),
    ),
    # --- refund: the forgotten renewal, 5 business days (002) --------------------------------
    refund(
        "grace-after-guarantee-window",
        "002",
        "one second after that 30-day window: the renewal grace takes over",
        terms=Terms("month", guarantee_days=30),
        charge=renewal(utc(2026, 5, 1, 8), utc(2026, 6, 1, 8)),
        first_paid_at=utc(2026, 4, 1, 8),
        now=utc(2026, 5, 1, 8, 0, 1),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 5, 1, 8, 0, 1)),
    ),
    refund(
        "grace-ascension-last-second",
        "002",
        "paid Mon 11 May; Tue, Wed, (Thu 14 Ascension), Fri, Mon, Tue 19 = 5th: open until "
        "Wed 20 May 00:00 Paris = 19 May 22:00 UTC",
        terms=MONTHLY,
        charge=ASCENSION_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 5, 19, 21, 59, 59),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 5, 19, 21, 59, 59)),
    ),
    refund(
        "grace-ascension-deadline",
        "002",
        "midnight Paris at the end of the 5th business day: closed",
        terms=MONTHLY,
        charge=ASCENSION_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 5, 19, 22),
        expected=none(),
    ),
    refund(
        "grace-weekend-last-second",
        "002",
        "paid Thu 4 June; Fri, (weekend), Mon, Tue, Wed, Thu 11 = 5th: open until 11 June "
        "22:00 UTC",
        terms=MONTHLY,
        charge=JUNE_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 11, 21, 59, 59),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 6, 11, 21, 59, 59)),
    ),
    refund(
        "grace-weekend-deadline",
        "002",
        "Fri 12 June 00:00 Paris: closed",
        terms=MONTHLY,
        charge=JUNE_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 11, 22),
        expected=none(),
    ),
    refund(
        "grace-local-payment-day",
        "002",
        "paid Thu 4 June 22:30 UTC = Fri 5 June 00:30 Paris: the count starts from Friday",
        terms=MONTHLY,
        charge=LATE_NIGHT_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 12, 21, 59, 59),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 6, 12, 21, 59, 59)),
    ),
    refund(
        "grace-local-payment-day-deadline",
        "002",
        "Mon 8 .. Fri 12 June; closes Sat 13 June 00:00 Paris = 12 June 22:00 UTC",
        terms=MONTHLY,
        charge=LATE_NIGHT_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 12, 22),
        expected=none(),
    ),
    refund(
        "grace-gb-may-day-last-second",
        "002",
        "GB customer paid Fri 1 May; Mon 4 May bank holiday; Tue..Fri, Mon 11 = 5th: open "
        "until Tue 12 May 00:00 London (BST) = 11 May 23:00 UTC",
        terms=MONTHLY,
        charge=MAY_DAY_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 5, 11, 22, 59, 59),
        country="GB",
        tz="Europe/London",
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 5, 11, 22, 59, 59)),
    ),
    refund(
        "grace-gb-may-day-deadline",
        "002",
        "midnight London: closed",
        terms=MONTHLY,
        charge=MAY_DAY_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 5, 11, 23),
        country="GB",
        tz="Europe/London",
        expected=none(),
    ),
    refund(
        "grace-fr-victory-day-last-second",
        "002",
        "same payment for a French customer: Mon 4..Thu 7, (Fri 8 Victory Day), Mon 11 = 5th",
        terms=MONTHLY,
        charge=MAY_DAY_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 5, 11, 21, 59, 59),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 5, 11, 21, 59, 59)),
    ),
    refund(
        "grace-fr-victory-day-deadline",
        "002",
        "Tue 12 May 00:00 Paris = 11 May 22:00 UTC, an hour before London's",
        terms=MONTHLY,
        charge=MAY_DAY_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 5, 11, 22),
        expected=none(),
    ),
    refund(
        "grace-dst-march-last-second",
        "002",
        "paid Tue 24 March (CET); 5th business day Tue 31 March; closes Wed 1 April 00:00 "
        "CEST = 31 March 22:00 UTC",
        terms=MONTHLY,
        charge=MARCH_DST_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 3, 31, 21, 59, 59),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 3, 31, 21, 59, 59)),
    ),
    refund(
        "grace-dst-march-deadline",
        "002",
        "summer time: the deadline is 22:00 UTC, not 23:00",
        terms=MONTHLY,
        charge=MARCH_DST_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 3, 31, 22),
        expected=none(),
    ),
    refund(
        "grace-dst-october-last-second",
        "002",
        "paid Wed 21 Oct (CEST); 5th business day Wed 28 Oct; closes Thu 29 Oct 00:00 CET = "
        "28 Oct 23:00 UTC",
        terms=MONTHLY,
        charge=OCTOBER_DST_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 10, 28, 22, 59, 59),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 10, 28, 22, 59, 59)),
    ),
    refund(
        "grace-dst-october-deadline",
        "002",
        "winter time: the deadline is 23:00 UTC",
        terms=MONTHLY,
        charge=OCTOBER_DST_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 10, 28, 23),
        expected=none(),
    ),
    refund(
        "grace-under-commitment",
        "002",
        "a forgotten Starter renewal is refunded in full, commitment or not",
        terms=COMMITTED,
        charge=renewal(utc(2026, 6, 4, 8), utc(2027, 6, 4, 8), STARTER_YEAR),
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 8, 12),
        expected=RefundQuote(19000, "EUR", "renewal_grace", utc(2026, 6, 8, 12)),
    ),
    refund(
        "grace-beats-remaining-months",
        "002",
        "a yearly renewal inside the window: the whole year back, not 11/12",
        terms=YEARLY,
        charge=renewal(utc(2026, 6, 4, 8), utc(2027, 6, 4, 8), PREMIUM_YEAR),
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 8, 12),
        expected=RefundQuote(49000, "EUR", "renewal_grace", utc(2026, 6, 8, 12)),
    ),
    refund(
        "grace-not-a-renewal",
        "002",
        "a charge that is not an automatic renewal gets no renewal grace",
        terms=MONTHLY,
        charge=Charge(PREMIUM_MONTH, utc(2026, 6, 4, 8), utc(2026, 6, 4, 8), utc(2026, 7, 4, 8)),
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 5, 8),
        expected=none(),
    ),
    refund(
        "grace-disabled",
        "002",
        "renewal_grace_business_days=0 disables the rule",
        terms=Terms("month", renewal_grace_business_days=0),
        charge=JUNE_RENEWAL,
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 5, 8),
        expected=none(),
    ),
    refund(
        "grace-excludes-tax",
        "002",
        "58.80 renewal with 9.80 VAT: 49.00 refunded",
        terms=MONTHLY,
        charge=renewal(utc(2026, 6, 4, 8), utc(2026, 7, 4, 8), 5880, tax=980),
        first_paid_at=LONG_AGO,
        now=utc(2026, 6, 5, 8),
        expected=RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 6, 5, 8)),
    ),
    # --- refund: full months left on a yearly plan without commitment (004) -----------------
    refund(
        "months-jan31-first-month",
        "004",
        "period from 31 Jan: the first month ends 28 Feb (clamped); 11 months left",
        terms=YEARLY,
        charge=JAN31_YEAR,
        now=utc(2026, 2, 27, 12),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2026, 2, 28, 10)),
    ),
    refund(
        "months-jan31-last-second-of-first-month",
        "004",
        "28 Feb 09:59:59: still the first month",
        terms=YEARLY,
        charge=JAN31_YEAR,
        now=utc(2026, 2, 28, 9, 59, 59),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2026, 2, 28, 10)),
    ),
    refund(
        "months-jan31-second-month",
        "004",
        "28 Feb 10:00: the second month, to 31 March; 10 left: 490000 / 12 = 40833.33",
        terms=YEARLY,
        charge=JAN31_YEAR,
        now=utc(2026, 2, 28, 10),
        expected=RefundQuote(40833, "EUR", "remaining_months", utc(2026, 3, 31, 10)),
    ),
    refund(
        "months-eleventh-month",
        "004",
        "15 Dec is in the 11th month (30 Nov - 31 Dec): one month left, 49000 / 12 = 4083.33",
        terms=YEARLY,
        charge=JAN31_YEAR,
        now=utc(2026, 12, 15),
        expected=RefundQuote(4083, "EUR", "remaining_months", utc(2026, 12, 31, 10)),
    ),
    refund(
        "months-last-month",
        "004",
        "the 12th month of the year: no full month left after it",
        terms=YEARLY,
        charge=JAN31_YEAR,
        now=utc(2027, 1, 15),
        expected=none(),
    ),
    refund(
        "months-last-second-of-period",
        "004",
        "the very last second of the period: nothing",
        terms=YEARLY,
        charge=JAN31_YEAR,
        now=utc(2027, 1, 31, 9, 59, 59),
        expected=none(),
    ),
    refund(
        "months-at-period-end",
        "004",
        "at period_end the period is over: nothing",
        terms=YEARLY,
        charge=JAN31_YEAR,
        now=utc(2027, 1, 31, 10),
        expected=none(),
    ),
    refund(
        "months-before-period-start",
        "004",
        "paid in advance, asked the day before the period starts: the first month is the "
        "current one (as for the cancellation date), 11 months back",
        terms=YEARLY,
        charge=Charge(
            PREMIUM_YEAR, utc(2026, 1, 30, 10), utc(2026, 1, 31, 10), utc(2027, 1, 31, 10)
        ),
        first_paid_at=LONG_AGO,
        now=utc(2026, 1, 30, 12),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2026, 2, 28, 10)),
    ),
    refund(
        "months-leap-jan31-before-feb29",
        "004",
        "2028 is a leap year: the first month from 31 Jan ends 29 Feb",
        terms=YEARLY,
        charge=JAN31_LEAP_YEAR,
        now=utc(2028, 2, 29, 9, 59, 59),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2028, 2, 29, 10)),
    ),
    refund(
        "months-leap-jan31-on-feb29",
        "004",
        "29 Feb 2028 10:00 starts the second month, to 31 March",
        terms=YEARLY,
        charge=JAN31_LEAP_YEAR,
        now=utc(2028, 2, 29, 10),
        expected=RefundQuote(40833, "EUR", "remaining_months", utc(2028, 3, 31, 10)),
    ),
    refund(
        "months-feb29-start-first-month",
        "004",
        "a period from 29 Feb 2028 to 28 Feb 2029: the first month ends 29 March",
        terms=YEARLY,
        charge=FEB29_YEAR,
        now=utc(2028, 3, 29, 9, 59, 59),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2028, 3, 29, 10)),
    ),
    refund(
        "months-feb29-start-second-month",
        "004",
        "29 March 10:00: the second month, to 29 April",
        terms=YEARLY,
        charge=FEB29_YEAR,
        now=utc(2028, 3, 29, 10),
        expected=RefundQuote(40833, "EUR", "remaining_months", utc(2028, 4, 29, 10)),
    ),
    refund(
        "months-feb29-start-last-month",
        "004",
        "29 Jan 2029 starts the 12th month, which ends on period_end 28 Feb 2029: nothing",
        terms=YEARLY,
        charge=FEB29_YEAR,
        now=utc(2029, 2, 1),
        expected=none(),
    ),
    refund(
        "months-round-down",
        "004",
        "a 100.00 year, 11 months left: 1100.00 / 12 = 91.666..., rounded down to 91.66",
        terms=YEARLY,
        charge=Charge(10000, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9)),
        now=utc(2026, 3, 20),
        expected=RefundQuote(9166, "EUR", "remaining_months", utc(2026, 4, 2, 9)),
    ),
    refund(
        "months-exact-division",
        "004",
        "a 120.00 year in its 4th month: 8 months left, exactly 80.00",
        terms=YEARLY,
        charge=Charge(12000, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9)),
        now=utc(2026, 6, 10),
        expected=RefundQuote(8000, "EUR", "remaining_months", utc(2026, 7, 2, 9)),
    ),
    refund(
        "months-excludes-tax-and-fee",
        "002",
        "768.00 with 128.00 VAT and 150.00 customisation: months left of 490.00 only",
        terms=YEARLY,
        charge=Charge(
            76800,
            utc(2026, 3, 2, 9),
            utc(2026, 3, 2, 9),
            utc(2027, 3, 2, 9),
            tax=12800,
            non_refundable=15000,
        ),
        now=utc(2026, 3, 20),
        expected=RefundQuote(44916, "EUR", "remaining_months", utc(2026, 4, 2, 9)),
    ),
    refund(
        "months-zero-priced-plan",
        "004",
        "a free yearly plan: the rule applies and refunds nothing",
        terms=YEARLY,
        charge=Charge(0, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9)),
        now=utc(2026, 3, 20),
        expected=RefundQuote(0, "EUR", "remaining_months", utc(2026, 4, 2, 9)),
    ),
    refund(
        "months-gbp",
        "000",
        "a 420.00 GBP year in its 1st month: 11 months, 4620.00 / 12 = 385.00",
        terms=YEARLY,
        charge=Charge(
            42000, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9), currency="GBP"
        ),
        now=utc(2026, 3, 20),
        expected=RefundQuote(38500, "GBP", "remaining_months", utc(2026, 4, 2, 9)),
    ),
    refund(
        "months-paris-clock-last-second",
        "004",
        "period from 15 Jan 00:30 Paris; 15 April 00:29:59 CEST is still the 3rd month",
        terms=YEARLY,
        charge=PARIS_YEAR,
        now=utc(2026, 4, 14, 22, 29, 59),
        expected=RefundQuote(36750, "EUR", "remaining_months", paris(2026, 4, 15, 0, 30)),
    ),
    refund(
        "months-paris-clock-new-month",
        "004",
        "15 April 00:30 CEST = 14 April 22:30 UTC starts the 4th month: 8 left, 32666.67",
        terms=YEARLY,
        charge=PARIS_YEAR,
        now=utc(2026, 4, 14, 22, 30),
        expected=RefundQuote(32666, "EUR", "remaining_months", paris(2026, 5, 15, 0, 30)),
    ),
    refund(
        "months-none-under-commitment",
        "000",
        "a committed yearly plan after the guarantee: nothing",
        terms=COMMITTED,
        charge=Charge(STARTER_YEAR, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9), utc(2027, 3, 2, 9)),
        now=utc(2026, 5, 20),
        expected=none(),
    ),
    refund(
        "months-none-monthly",
        "004",
        "a monthly plan after the guarantee: nothing for the current month",
        terms=MONTHLY,
        charge=MARCH_MONTH,
        now=utc(2026, 3, 25),
        expected=none(),
    ),
    # --- cancellation date (004 monthly and yearly; 000 commitment) --------------------------
    cancel(
        "cancel-monthly-period-end",
        "004",
        "monthly: the service runs to the end of the paid month",
        terms=MONTHLY,
        period=(utc(2026, 3, 2, 9), utc(2026, 4, 2, 9)),
        now=utc(2026, 3, 20),
        expected=utc(2026, 4, 2, 9),
    ),
    cancel(
        "cancel-commitment-term-end",
        "000",
        "a commitment: renewal off, the service runs to the end of the 12-month term",
        terms=COMMITTED,
        period=(utc(2026, 1, 31, 10), utc(2027, 1, 31, 10)),
        now=utc(2026, 2, 10),
        expected=utc(2027, 1, 31, 10),
    ),
    cancel(
        "cancel-yearly-jan31-end-of-february",
        "004",
        "yearly without commitment from 31 Jan: the current month ends 28 Feb",
        terms=YEARLY,
        period=(utc(2026, 1, 31, 10), utc(2027, 1, 31, 10)),
        now=utc(2026, 2, 10),
        expected=utc(2026, 2, 28, 10),
    ),
    cancel(
        "cancel-yearly-jan31-leap-year",
        "004",
        "the same in 2028: the current month ends 29 Feb",
        terms=YEARLY,
        period=(utc(2028, 1, 31, 10), utc(2029, 1, 31, 10)),
        now=utc(2028, 2, 10),
        expected=utc(2028, 2, 29, 10),
    ),
    cancel(
        "cancel-yearly-on-month-boundary",
        "004",
        "exactly at 28 Feb 10:00 the next month has begun: it runs to 31 March",
        terms=YEARLY,
        period=(utc(2026, 1, 31, 10), utc(2027, 1, 31, 10)),
        now=utc(2026, 2, 28, 10),
        expected=utc(2026, 3, 31, 10),
    ),
    cancel(
        "cancel-yearly-at-period-start",
        "004",
        "cancelled the second the period starts: one month of service",
        terms=YEARLY,
        period=(utc(2026, 3, 2, 9), utc(2027, 3, 2, 9)),
        now=utc(2026, 3, 2, 9),
        expected=utc(2026, 4, 2, 9),
    ),
    cancel(
        "cancel-yearly-last-month",
        "004",
        "in the last month the end of the month is the end of the period",
        terms=YEARLY,
        period=(utc(2026, 1, 31, 10), utc(2027, 1, 31, 10)),
        now=utc(2027, 1, 15),
        expected=utc(2027, 1, 31, 10),
    ),
    cancel(
        "cancel-yearly-short-period-clamped",
        "004",
        "a period ending 20 Dec: the month from 15 Dec would end 15 Jan, clamped to 20 Dec",
        terms=YEARLY,
        period=(utc(2026, 1, 15), utc(2026, 12, 20)),
        now=utc(2026, 12, 16),
        expected=utc(2026, 12, 20),
    ),
    cancel(
        "cancel-after-period-end",
        "004",
        "asked after the period ended: the end is period_end (nothing more runs)",
        terms=YEARLY,
        period=(utc(2026, 1, 31, 10), utc(2027, 1, 31, 10)),
        now=utc(2027, 2, 5),
        expected=utc(2027, 1, 31, 10),
    ),
    cancel(
        "cancel-yearly-before-period-start",
        "004",
        "cancelled before a period paid in advance starts: its first month runs",
        terms=YEARLY,
        period=(utc(2026, 1, 31, 10), utc(2027, 1, 31, 10)),
        now=utc(2026, 1, 30, 12),
        expected=utc(2026, 2, 28, 10),
    ),
    cancel(
        "cancel-yearly-paris-clock",
        "004",
        "a period from 15 Jan 00:30 Paris, asked 15 April 00:45 CEST: runs to 15 May 00:30",
        terms=YEARLY,
        period=(paris(2026, 1, 15, 0, 30), paris(2027, 1, 15, 0, 30)),
        now=utc(2026, 4, 14, 22, 45),
        expected=paris(2026, 5, 15, 0, 30),
    ),
    # --- plan changes (004 upgrades now, downgrades next period; 000 review; 001 data kept) ---
    change(
        "change-same-plan",
        "001",
        "the same plan on the same terms: nothing to do",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PRO, PRO_MONTH),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        expected=PlanChangeQuote("none", None, 0),
    ),
    change(
        "change-commitment-upgrade-review",
        "000",
        "Starter under commitment to Pro: a contract change request for staff",
        (COMMITTED, STARTER, STARTER_YEAR),
        (YEARLY, PRO, PRO_YEAR),
        period=YEAR_PERIOD,
        now=utc(2026, 3, 1),
        expected=PlanChangeQuote("review", None, 0),
    ),
    change(
        "change-commitment-downgrade-review",
        "000",
        "Standard to Starter under commitment: also review, never self-service",
        (COMMITTED, STANDARD, STANDARD_YEAR),
        (COMMITTED, STARTER, STARTER_YEAR),
        period=YEAR_PERIOD,
        now=utc(2026, 3, 1),
        expected=PlanChangeQuote("review", None, 0),
    ),
    change(
        "change-upgrade-monthly-half-period",
        "004",
        "Pro 29.00 to Premium 49.00 half-way through a 30-day month: 20.00 x 1/2 = 10.00",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        expected=PlanChangeQuote("immediate", utc(2026, 4, 16), 1000),
    ),
    change(
        "change-upgrade-half-cent-rounds-up",
        "004",
        "1,296,648 s of 2,592,000 left: 2000 x that = 1000.5 cents, rounded half up to 1001",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 15, 23, 49, 12),
        expected=PlanChangeQuote("immediate", utc(2026, 4, 15, 23, 49, 12), 1001),
    ),
    change(
        "change-upgrade-one-second-later",
        "004",
        "one second later: 1000.499... cents, 1000 (proration by the second)",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 15, 23, 49, 13),
        expected=PlanChangeQuote("immediate", utc(2026, 4, 15, 23, 49, 13), 1000),
    ),
    change(
        "change-upgrade-yearly-half-year",
        "004",
        "Pro 290.00 to Premium 490.00 yearly with 182.5 of 365 days left: 100.00",
        (YEARLY, PRO, PRO_YEAR),
        (YEARLY, PREMIUM, PREMIUM_YEAR),
        period=YEAR_PERIOD,
        now=utc(2026, 7, 2, 12),
        expected=PlanChangeQuote("immediate", utc(2026, 7, 2, 12), 10000),
    ),
    change(
        "change-upgrade-last-hour-half-up",
        "004",
        "3942 s left of the year: 20000 x 3942 / 31536000 = 2.5 cents, rounded to 3",
        (YEARLY, PRO, PRO_YEAR),
        (YEARLY, PREMIUM, PREMIUM_YEAR),
        period=YEAR_PERIOD,
        now=utc(2026, 12, 31, 22, 54, 18),
        expected=PlanChangeQuote("immediate", utc(2026, 12, 31, 22, 54, 18), 3),
    ),
    change(
        "change-upgrade-last-hour-one-second-later",
        "004",
        "3941 s left: 2.4994 cents, rounded to 2",
        (YEARLY, PRO, PRO_YEAR),
        (YEARLY, PREMIUM, PREMIUM_YEAR),
        period=YEAR_PERIOD,
        now=utc(2026, 12, 31, 22, 54, 19),
        expected=PlanChangeQuote("immediate", utc(2026, 12, 31, 22, 54, 19), 2),
    ),
    change(
        "change-upgrade-at-period-end",
        "004",
        "no time left: nothing due, the new plan starts now",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=MONTH_PERIOD,
        now=utc(2026, 5, 1),
        expected=PlanChangeQuote("immediate", utc(2026, 5, 1), 0),
    ),
    change(
        "change-upgrade-monthly-to-yearly",
        "004",
        "Pro monthly 29.00 half used to Premium yearly 490.00: 490.00 - 14.50 = 475.50",
        (MONTHLY, PRO, PRO_MONTH),
        (YEARLY, PREMIUM, PREMIUM_YEAR),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        expected=PlanChangeQuote("immediate", utc(2026, 4, 16), 47550),
    ),
    change(
        "change-upgrade-yearly-to-monthly-credit",
        "004",
        "Pro yearly 290.00 half used to Premium monthly 49.00: 49.00 - 145.00 = -96.00, "
        "nothing due and 96.00 credited",
        (YEARLY, PRO, PRO_YEAR),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=YEAR_PERIOD,
        now=utc(2026, 7, 2, 12),
        expected=PlanChangeQuote("immediate", utc(2026, 7, 2, 12), 0, credit=9600),
    ),
    change(
        "change-upgrade-yearly-to-monthly-late",
        "004",
        "30 days of the year left: 49.00 - 290.00 x 30/365 (23.8356) = 25.1644, 25.16",
        (YEARLY, PRO, PRO_YEAR),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=YEAR_PERIOD,
        now=utc(2026, 12, 2),
        expected=PlanChangeQuote("immediate", utc(2026, 12, 2), 2516),
    ),
    change(
        "change-upgrade-cheaper-target-credit",
        "004",
        "a higher plan on a 19.00 promotion from 29.00, half-way: -5.00, credited",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PREMIUM, 1900),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        expected=PlanChangeQuote("immediate", utc(2026, 4, 16), 0, credit=500),
    ),
    change(
        "change-upgrade-from-free-plan",
        "004",
        "a zero-priced plan to Pro 29.00 half-way: 14.50",
        (MONTHLY, FREE, 0),
        (MONTHLY, PRO, PRO_MONTH),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        expected=PlanChangeQuote("immediate", utc(2026, 4, 16), 1450),
    ),
    change(
        "change-upgrade-dst-march",
        "004",
        "March in Paris lasts 743 h; from 16 March 00:00 CET 383 h are left: 2000 x 383/743 "
        "= 1030.96, 1031",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=(paris(2026, 3, 1), paris(2026, 4, 1)),
        now=paris(2026, 3, 16),
        expected=PlanChangeQuote("immediate", paris(2026, 3, 16), 1031),
    ),
    change(
        "change-upgrade-dst-october",
        "004",
        "October in Paris lasts 745 h; from 16 Oct 00:00 CEST 385 h are left: 2000 x 385/745 "
        "= 1033.56, 1034",
        (MONTHLY, PRO, PRO_MONTH),
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        period=(paris(2026, 10, 1), paris(2026, 11, 1)),
        now=paris(2026, 10, 16),
        expected=PlanChangeQuote("immediate", paris(2026, 10, 16), 1034),
    ),
    change(
        "change-upgrade-gbp",
        "000",
        "the quote carries the price's currency: 42.00 to 69.00 GBP half-way, 13.50",
        (MONTHLY, PRO, 4200),
        (MONTHLY, PREMIUM, 6900),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        currency="GBP",
        expected=PlanChangeQuote("immediate", utc(2026, 4, 16), 1350, currency="GBP"),
    ),
    change(
        "change-downgrade-next-period",
        "004",
        "Premium to Pro monthly: from the next period (1 May), nothing due now",
        (MONTHLY, PREMIUM, PREMIUM_MONTH),
        (MONTHLY, PRO, PRO_MONTH),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        expected=PlanChangeQuote("next_period", utc(2026, 5, 1), 0),
    ),
    change(
        "change-downgrade-yearly-next-period",
        "004",
        "Premium to Pro yearly: from the next yearly period",
        (YEARLY, PREMIUM, PREMIUM_YEAR),
        (YEARLY, PRO, PRO_YEAR),
        period=YEAR_PERIOD,
        now=utc(2026, 7, 2),
        expected=PlanChangeQuote("next_period", utc(2027, 1, 1), 0),
    ),
    change(
        "change-same-rank-other-interval",
        "004",
        "Pro monthly to Pro yearly (equal rank): from the next period",
        (MONTHLY, PRO, PRO_MONTH),
        (YEARLY, PRO, PRO_YEAR),
        period=MONTH_PERIOD,
        now=utc(2026, 4, 16),
        expected=PlanChangeQuote("next_period", utc(2026, 5, 1), 0),
    ),
    # --- failed payments: retries on days 1, 3 and 7 (004) -----------------------------------
    Case(
        "retry-schedule",
        "004",
        "3 retries over 7 days: days 1, 3 and 7 after the failure",
        payment_retry_schedule,
        {"failed_at": utc(2026, 3, 10, 14, 30)},
        (utc(2026, 3, 11, 14, 30), utc(2026, 3, 13, 14, 30), utc(2026, 3, 17, 14, 30)),
    ),
    Case(
        "retry-across-month-end",
        "004",
        "27 Feb 2026: 28 Feb, 2 March, 6 March",
        payment_retry_schedule,
        {"failed_at": utc(2026, 2, 27, 9)},
        (utc(2026, 2, 28, 9), utc(2026, 3, 2, 9), utc(2026, 3, 6, 9)),
    ),
    Case(
        "retry-across-dst-keeps-local-time",
        "004",
        "failed 28 March 10:00 Paris: retries at 10:00 Paris across the clock change",
        payment_retry_schedule,
        {"failed_at": paris(2026, 3, 28, 10)},
        (paris(2026, 3, 29, 10), paris(2026, 3, 31, 10), paris(2026, 4, 4, 10)),
    ),
    # --- trial (001) --------------------------------------------------------------------------
    Case(
        "trial-default",
        "001",
        "15 days; warning 3 days before the end; data purged 7 days after",
        trial_dates,
        {"started_at": utc(2026, 3, 1, 12)},
        TrialDates(utc(2026, 3, 16, 12), utc(2026, 3, 13, 12), utc(2026, 3, 23, 12)),
    ),
    Case(
        "trial-across-leap-day",
        "001",
        "started 20 Feb 2028: ends 6 March (29 Feb counted)",
        trial_dates,
        {"started_at": utc(2028, 2, 20, 8)},
        TrialDates(utc(2028, 3, 6, 8), utc(2028, 3, 3, 8), utc(2028, 3, 13, 8)),
    ),
    Case(
        "trial-custom-lengths",
        "001",
        "the lengths are settings: 30-day trial, 5-day warning, 14-day purge grace",
        trial_dates,
        {
            "started_at": utc(2026, 1, 10),
            "length_days": 30,
            "warning_days": 5,
            "purge_grace_days": 14,
        },
        TrialDates(utc(2026, 2, 9), utc(2026, 2, 4), utc(2026, 2, 23)),
    ),
    # --- renewal reminders (002, DESIGN 4: 7 days yearly, 3 days monthly) --------------------
    Case(
        "reminder-yearly",
        "002",
        "a yearly renewal on 31 Jan 2027: reminder 7 days before",
        renewal_reminder_at,
        {"terms": YEARLY, "period_end": utc(2027, 1, 31, 10)},
        utc(2027, 1, 24, 10),
    ),
    Case(
        "reminder-yearly-committed",
        "000",
        "a committed yearly plan renews too (000): 7 days before",
        renewal_reminder_at,
        {"terms": COMMITTED, "period_end": utc(2027, 3, 2, 9)},
        utc(2027, 2, 23, 9),
    ),
    Case(
        "reminder-monthly",
        "002",
        "a monthly renewal on 2 April: reminder 3 days before",
        renewal_reminder_at,
        {"terms": MONTHLY, "period_end": utc(2026, 4, 2, 9)},
        utc(2026, 3, 30, 9),
    ),
    # --- calendar arithmetic of DESIGN.md section 6 ------------------------------------------
    Case(
        "add-months-jan31",
        "6",
        "31 January + 1 month = 28 February",
        add_months,
        {"dt": utc(2026, 1, 31, 10), "n": 1},
        utc(2026, 2, 28, 10),
    ),
    Case(
        "add-months-jan31-leap",
        "6",
        "31 January 2028 + 1 month = 29 February",
        add_months,
        {"dt": utc(2028, 1, 31, 10), "n": 1},
        utc(2028, 2, 29, 10),
    ),
    Case(
        "add-months-feb29-plus-year",
        "6",
        "29 February 2028 + 12 months = 28 February 2029",
        add_months,
        {"dt": utc(2028, 2, 29, 10), "n": 12},
        utc(2029, 2, 28, 10),
    ),
    Case(
        "add-months-december",
        "6",
        "December + 1 month crosses the year",
        add_months,
        {"dt": utc(2026, 12, 15, 8), "n": 1},
        utc(2027, 1, 15, 8),
    ),
    Case(
        "add-months-keeps-local-time",
        "6",
        "15 March 09:00 Paris + 1 month = 15 April 09:00 Paris (the offset changes)",
        add_months,
        {"dt": paris(2026, 3, 15, 9), "n": 1},
        paris(2026, 4, 15, 9),
    ),
    Case(
        "add-months-negative",
        "6",
        "31 March - 1 month = 28 February",
        add_months,
        {"dt": utc(2026, 3, 31), "n": -1},
        utc(2026, 2, 28),
    ),
    Case(
        "deadline-ascension",
        "002",
        "paid Mon 11 May: the 5th business day is Tue 19 May (Ascension skipped)",
        business_day_deadline,
        {"paid_at": utc(2026, 5, 11, 6), "n": 5, "country": "FR", "tz": "Europe/Paris"},
        paris(2026, 5, 20),
    ),
    Case(
        "deadline-gb-may-day",
        "002",
        "paid Fri 1 May in London: Mon 4 May is a bank holiday",
        business_day_deadline,
        {"paid_at": utc(2026, 5, 1, 9), "n": 5, "country": "GB", "tz": "Europe/London"},
        london(2026, 5, 12),
    ),
    Case(
        "deadline-paid-on-saturday",
        "002",
        "paid Sat 6 June: Mon 8 to Fri 12 June",
        business_day_deadline,
        {"paid_at": utc(2026, 6, 6, 10), "n": 5, "country": "FR", "tz": "Europe/Paris"},
        paris(2026, 6, 13),
    ),
    Case(
        "deadline-year-end",
        "002",
        "paid Wed 23 Dec 2026: 24, (25 Dec Christmas), 28, 29, 30, 31 Dec",
        business_day_deadline,
        {"paid_at": utc(2026, 12, 23, 10), "n": 5, "country": "FR", "tz": "Europe/Paris"},
        paris(2027, 1, 1),
    ),
    # A payment made during a period (an upgrade, months charged again) is refunded pro rata
    # by the second for the time after the service ends (004), taxes excluded (002).
    Case(
        "later-charge-three-days-used",
        "004",
        "an upgrade paid for 1-11 April (10 days), 120.00 of which 20.00 tax; the service ends "
        "on 4 April: 7 days of 10 of the 100.00 net",
        later_charge_refund,
        {
            "charge": Charge(12000, utc(2026, 4, 1), utc(2026, 4, 1), utc(2026, 4, 11), tax=2000),
            "service_ends": utc(2026, 4, 4),
        },
        7000,
    ),
    Case(
        "later-charge-ends-before-it-starts",
        "004",
        "months charged again from 30 April, the service ending on 30 April: all of it back",
        later_charge_refund,
        {
            "charge": Charge(40833, utc(2026, 3, 16), utc(2026, 4, 30), utc(2027, 1, 31)),
            "service_ends": utc(2026, 4, 30),
        },
        40833,
    ),
    Case(
        "later-charge-ends-at-period-end",
        "004",
        "the service runs to the period's end: nothing of the later payment is unused",
        later_charge_refund,
        {
            "charge": Charge(12000, utc(2026, 4, 1), utc(2026, 4, 1), utc(2026, 4, 11), tax=2000),
            "service_ends": utc(2026, 4, 11, 0, 0, 1),
        },
        0,
    ),
    # Until when a refund quote holds: what the refund page tells the customer (002, 004).
    Case(
        "holds-guarantee-last-second",
        "004",
        "paid 2 March 09:00: the guarantee's full refund holds to 16 March 09:00, inclusive",
        refund_quote_holds_until,
        {
            "terms": MONTHLY,
            "charge": MARCH_MONTH,
            "quote": RefundQuote(4900, "EUR", "guarantee", utc(2026, 3, 10)),
            "first_paid_at": utc(2026, 3, 2, 9),
        },
        utc(2026, 3, 16, 9),
    ),
    Case(
        "holds-grace-ascension",
        "002",
        "renewal paid Mon 11 May: the 5th business day ends Wed 20 May 00:00 Paris; the quote "
        "holds to the second before",
        refund_quote_holds_until,
        {
            "terms": MONTHLY,
            "charge": ASCENSION_RENEWAL,
            "quote": RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 5, 12)),
            "first_paid_at": LONG_AGO,
        },
        paris(2026, 5, 19, 23, 59, 59),
    ),
    Case(
        "holds-remaining-months-to-month-end",
        "004",
        "asked in the period's first month (2 March - 2 April): 11 months back until the month "
        "ends; one second later, 10",
        refund_quote_holds_until,
        {
            "terms": YEARLY,
            "charge": MARCH_YEAR,
            "quote": RefundQuote(44916, "EUR", "remaining_months", utc(2026, 4, 2, 9)),
            "first_paid_at": utc(2026, 3, 2, 9),
        },
        utc(2026, 4, 2, 8, 59, 59),
    ),
    Case(
        "holds-nothing-due",
        "004",
        "nothing is due: nothing to hold",
        refund_quote_holds_until,
        {
            "terms": MONTHLY,
            "charge": MARCH_MONTH,
            "quote": RefundQuote(0, "EUR", "none", None),
            "first_paid_at": LONG_AGO,
        },
        None,
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_policy_table(case: Case) -> None:
    assert case.call(**case.kwargs) == case.expected, case.reason


def test_table_is_well_formed() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert len(CASES) >= 60
    assert {case.seed for case in CASES} <= {"000", "001", "002", "003", "004", "6"}
    assert all(case.reason for case in CASES)


def test_table_covers_every_rule_and_mode() -> None:
    rules = {c.expected.rule for c in CASES if isinstance(c.expected, RefundQuote)}
    modes = {c.expected.mode for c in CASES if isinstance(c.expected, PlanChangeQuote)}
    assert rules == {"guarantee", "renewal_grace", "remaining_months", "none"}
    assert modes == {"none", "review", "immediate", "next_period"}


def test_results_keep_time_zone_and_equal_instant() -> None:
    # Equal as instants is not enough for display: ends_at keeps the period's own zone.
    quote = refund_quote(YEARLY, PARIS_YEAR, first_paid_at=LONG_AGO, now=utc(2026, 4, 14, 22, 30))
    assert quote.ends_at is not None
    assert quote.ends_at.tzinfo is PARIS


def test_immediate_quote_says_when_the_period_renews() -> None:
    same = plan_change_quote(
        MONTHLY,
        PRO,
        PRO_MONTH,
        MONTHLY,
        PREMIUM,
        PREMIUM_MONTH,
        period_start=MONTH_PERIOD[0],
        period_end=MONTH_PERIOD[1],
        now=utc(2026, 4, 16),
    )
    other = plan_change_quote(
        MONTHLY,
        PRO,
        PRO_MONTH,
        YEARLY,
        PREMIUM,
        PREMIUM_YEAR,
        period_start=MONTH_PERIOD[0],
        period_end=MONTH_PERIOD[1],
        now=utc(2026, 4, 16),
    )
    assert (same.renews_at, same.starts_new_period) == (utc(2026, 5, 1), False)
    assert (other.renews_at, other.starts_new_period) == (utc(2027, 4, 16), True)


# --- validation --------------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 2, 9)  # noqa: DTZ001 - the point of these tests


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Terms("week"), id="interval-week"),
        pytest.param(lambda: Terms("monthly"), id="interval-monthly"),
        pytest.param(lambda: Terms("month", guarantee_days=-1), id="negative-guarantee"),
        pytest.param(
            lambda: Charge(-1, utc(2026, 3, 2), utc(2026, 3, 2), utc(2026, 4, 2)),
            id="negative-total",
        ),
        pytest.param(lambda: Charge(100, NAIVE, utc(2026, 3, 2), utc(2026, 4, 2)), id="naive-paid"),
        pytest.param(
            lambda: Charge(100, utc(2026, 3, 2), utc(2026, 4, 2), utc(2026, 3, 2)),
            id="period-backwards",
        ),
        pytest.param(
            lambda: refund_quote(MONTHLY, MARCH_MONTH, first_paid_at=NAIVE, now=utc(2026, 3, 3)),
            id="naive-first-paid",
        ),
        pytest.param(
            lambda: refund_quote(MONTHLY, MARCH_MONTH, first_paid_at=NAIVE, now=NAIVE),
            id="naive-now",
        ),
        pytest.param(
            lambda: refund_quote(
                MONTHLY, MARCH_MONTH, first_paid_at=LONG_AGO, now=utc(2026, 3, 3), tz="Mars/Base"
            ),
            id="unknown-zone",
        ),
        pytest.param(
            lambda: refund_quote(
                MONTHLY, MARCH_MONTH, first_paid_at=LONG_AGO, now=utc(2026, 3, 3), country="XX"
            ),
            id="unknown-country",
        ),
        pytest.param(
            lambda: cancellation_date(
                MONTHLY, period_start=utc(2026, 3, 2), period_end=utc(2026, 4, 2), now=NAIVE
            ),
            id="naive-cancel",
        ),
        pytest.param(
            lambda: plan_change_quote(
                MONTHLY,
                PRO,
                PRO_MONTH,
                MONTHLY,
                PREMIUM,
                PREMIUM_MONTH,
                period_start=NAIVE,
                period_end=utc(2026, 4, 2),
                now=utc(2026, 3, 3),
            ),
            id="naive-period",
        ),
        pytest.param(lambda: payment_retry_schedule(NAIVE), id="naive-retry"),
        pytest.param(lambda: trial_dates(NAIVE), id="naive-trial"),
        pytest.param(lambda: renewal_reminder_at(MONTHLY, period_end=NAIVE), id="naive-reminder"),
        pytest.param(lambda: add_months(NAIVE, 1), id="naive-add-months"),
    ],
)
def test_invalid_inputs_raise_value_error(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        build()


def test_values_are_frozen() -> None:
    quote = RefundQuote(0, "EUR", "none", None)
    with pytest.raises(AttributeError):
        quote.amount = 1


def test_country_subdivision_adds_regional_holidays() -> None:
    # Easter Monday is a bank holiday in England but not UK-wide: "GB-ENG" counts it.
    paid = utc(2026, 4, 2, 9)  # Thu 2 April; Good Friday 3 April is UK-wide
    assert business_day_deadline(paid, 5, "GB", "Europe/London") == london(2026, 4, 11)
    assert business_day_deadline(paid, 5, "GB-ENG", "Europe/London") == london(2026, 4, 14)


def test_format_money() -> None:
    assert format_money(123456, "EUR", "fr") == "1\u202f234,56\u00a0€"
    assert format_money(123456, "EUR", "en") == "€1,234.56"
    assert format_money(4900, "USD", "en") == "$49.00"
    assert format_money(4200, "GBP", "en-gb") == "£42.00"
    assert format_money(1234, "JPY", "en") == "¥1,234"  # no minor unit
    assert format_money(0, "EUR", "fr") == "0,00\u00a0€"
    assert format_money(5, "eur", "xx") == "€0.05"  # unknown language: English
