"""Properties of the policy rules over random terms, charges and times (hypothesis), no database.

Each property runs a fixed number of examples with no deadline and no example database, so a
run is repeatable in time and leaves nothing behind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscriptions.policy import (
    Charge,
    Terms,
    add_months,
    cancellation_date,
    later_charge_refund,
    payment_retry_schedule,
    plan_change_quote,
    refund_quote,
    renewal_reminder_at,
    trial_dates,
)

EXAMPLES = 300
POLICY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow],
)

# (country, zone) pairs a customer may have; each zone has daylight saving or not.
PLACES = [
    ("FR", "Europe/Paris"),
    ("GB", "Europe/London"),
    ("US", "America/New_York"),
    ("DE", "UTC"),
]
ZONES = [UTC, *(ZoneInfo(zone) for _, zone in PLACES if zone != "UTC")]

moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - bounds only; values get a zone below
    max_value=datetime(2034, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
)

terms_st = st.builds(
    Terms,
    interval=st.sampled_from(["month", "year"]),
    commitment_months=st.sampled_from([0, 0, 12]),
    guarantee_days=st.sampled_from([0, 14, 30]),
    renewal_grace_business_days=st.sampled_from([0, 5]),
)


@st.composite
def charges(draw: st.DrawFn, terms: Terms) -> Charge:
    start = draw(moments)
    # Mostly regular periods; sometimes an irregular end (a shortened or stretched period).
    regular = add_months(start, terms.months)
    end = draw(
        st.one_of(
            st.just(regular),
            st.integers(86400, 400 * 86400).map(lambda s: after(start, s)),
        )
    )
    total = draw(st.integers(0, 1_000_000))
    return Charge(
        total=total,
        paid_at=after(start, -draw(st.integers(0, 86400))),
        period_start=start,
        period_end=end,
        tax=draw(st.integers(0, total)),
        non_refundable=draw(st.sampled_from([0, 0, draw(st.integers(0, total))])),
        currency=draw(st.sampled_from(["EUR", "USD", "GBP"])),
        is_renewal=draw(st.booleans()),
    )


@st.composite
def refund_situations(draw: st.DrawFn) -> dict[str, Any]:
    terms = draw(terms_st)
    charge = draw(charges(terms))
    country, zone = draw(st.sampled_from(PLACES))
    first_paid_at = after(charge.paid_at, -draw(st.integers(0, 800 * 86400)))
    return {
        "terms": terms,
        "charge": charge,
        "first_paid_at": first_paid_at,
        "guarantee_used": draw(st.booleans()),
        "country": country,
        "tz": zone,
    }


def instant(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def after(start: datetime, seconds: int) -> datetime:
    """``seconds`` of real time after ``start``, on start's clock (never an imaginary time)."""
    return (instant(start) + timedelta(seconds=seconds)).astimezone(start.tzinfo)


def period_seconds(charge: Charge) -> int:
    return (instant(charge.period_end) - instant(charge.period_start)) // timedelta(seconds=1)


@POLICY
@given(situation=refund_situations(), offset=st.integers(-5 * 86400, 420 * 86400))
def test_refund_is_never_negative_nor_above_the_refundable_base(
    situation: dict[str, Any], offset: int
) -> None:
    charge = situation["charge"]
    now = after(charge.period_start, offset)
    quote = refund_quote(**situation, now=now)
    assert 0 <= quote.amount <= charge.refundable_base
    assert quote.currency == charge.currency
    if quote.rule == "none":
        assert (quote.amount, quote.ends_at) == (0, None)
    else:
        assert quote.ends_at is not None
        ends_at = instant(quote.ends_at)
        assert instant(now) <= ends_at <= max(instant(now), instant(charge.period_end))


@POLICY
@given(situation=refund_situations(), fractions=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_a_later_request_never_gives_a_larger_refund(
    situation: dict[str, Any], fractions: tuple[float, float]
) -> None:
    # Same charge, same guarantee_used: asking later can only lose money.
    charge = situation["charge"]
    span = period_seconds(charge) + 2 * 86400
    early, late = sorted(int(f * span) for f in fractions)
    start = charge.period_start
    first = refund_quote(**situation, now=after(start, early - 86400))
    second = refund_quote(**situation, now=after(start, late - 86400))
    assert second.amount <= first.amount


@POLICY
@given(
    situation=refund_situations(),
    fractions=st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)),
)
def test_a_later_payment_is_refunded_within_its_base_and_less_the_later_the_service_ends(
    situation: dict[str, Any], fractions: tuple[float, float]
) -> None:
    charge = situation["charge"]
    span = period_seconds(charge)
    early, late = sorted(int(f * span) for f in fractions)
    start = charge.period_start
    first = later_charge_refund(charge, service_ends=after(start, early))
    second = later_charge_refund(charge, service_ends=after(start, late))
    assert 0 <= second <= first <= charge.refundable_base
    assert later_charge_refund(charge, service_ends=after(start, -1)) == charge.refundable_base
    assert later_charge_refund(charge, service_ends=charge.period_end) == 0


@POLICY
@given(terms=terms_st, data=st.data())
def test_cancellation_date_is_never_before_now_nor_after_period_end(
    terms: Terms, data: st.DataObject
) -> None:
    charge = data.draw(charges(terms))
    offset = data.draw(st.integers(0, period_seconds(charge)))
    zone = data.draw(st.sampled_from(ZONES))
    now = after(charge.period_start, offset).astimezone(zone)
    ends = cancellation_date(
        terms, period_start=charge.period_start, period_end=charge.period_end, now=now
    )
    assert instant(now) <= instant(ends) <= instant(charge.period_end)
    if terms.interval == "year" and terms.commitment_months == 0:
        # 004: the end of the current calendar month of the period: at most 31 days away
        assert instant(ends) - instant(now) <= timedelta(days=31, hours=1)


@POLICY
@given(
    current_terms=terms_st.filter(lambda t: t.commitment_months == 0),
    target_interval=st.sampled_from(["month", "year"]),
    ranks=st.tuples(st.integers(0, 50), st.integers(1, 50)),
    prices=st.tuples(st.integers(0, 500_000), st.integers(0, 500_000)),
    data=st.data(),
)
def test_an_upgrade_never_charges_more_than_the_target_price(
    current_terms: Terms,
    target_interval: str,
    ranks: tuple[int, int],
    prices: tuple[int, int],
    data: st.DataObject,
) -> None:
    current_rank, step = ranks
    current_price, target_price = prices
    target_terms = Terms(target_interval)
    charge = data.draw(charges(current_terms))
    offset = data.draw(st.integers(-86400, period_seconds(charge) + 86400))
    now = after(charge.period_start, offset)
    quote = plan_change_quote(
        current_terms,
        current_rank,
        current_price,
        target_terms,
        current_rank + step,
        target_price,
        period_start=charge.period_start,
        period_end=charge.period_end,
        now=now,
    )
    assert quote.mode == "immediate"
    assert quote.effective_at == now
    assert 0 <= quote.amount_due <= target_price
    assert quote.credit >= 0
    assert not (quote.amount_due and quote.credit)
    # Rounded to the nearest minor unit of the exact prorated amount.
    length = period_seconds(charge)
    left = (instant(charge.period_end) - instant(now)) // timedelta(seconds=1)
    unused = Fraction(min(max(left, 0), length), length)
    if current_terms.interval == target_interval:
        exact = (target_price - current_price) * unused
    else:
        exact = target_price - current_price * unused
    assert abs(quote.amount_due - quote.credit - exact) <= Fraction(1, 2)


@POLICY
@given(
    current=terms_st,
    target=terms_st,
    ranks=st.tuples(st.integers(0, 50), st.integers(0, 50)),
    data=st.data(),
)
def test_only_upgrades_without_commitment_cost_anything_now(
    current: Terms, target: Terms, ranks: tuple[int, int], data: st.DataObject
) -> None:
    charge = data.draw(charges(current))
    now = after(charge.period_start, data.draw(st.integers(0, period_seconds(charge))))
    quote = plan_change_quote(
        current,
        ranks[0],
        4900,
        target,
        ranks[1],
        7900,
        period_start=charge.period_start,
        period_end=charge.period_end,
        now=now,
    )
    if quote.mode != "immediate":
        assert (quote.amount_due, quote.credit) == (0, 0)
    if quote.mode == "next_period":
        assert quote.effective_at == charge.period_end
    if current.commitment_months > 0 and not (ranks[0] == ranks[1] and current == target):
        assert quote.mode == "review"


@POLICY
@given(failed_at=moments)
def test_retry_schedule_is_strictly_increasing_and_within_seven_days(failed_at: datetime) -> None:
    schedule = payment_retry_schedule(failed_at)
    assert len(schedule) == 3
    moments_ = [failed_at, *schedule]
    assert all(a < b for a, b in pairwise(moments_))
    # Within 7 days on the customer's own clock (the zone failed_at was given in).
    assert schedule[-1] - failed_at <= timedelta(days=7)
    assert (schedule[-1].date() - failed_at.date()).days <= 7


@POLICY
@given(started_at=moments, terms=terms_st, period_end=moments)
def test_trial_and_reminder_dates_are_ordered(
    started_at: datetime, terms: Terms, period_end: datetime
) -> None:
    trial = trial_dates(started_at)
    assert started_at < trial.warning_at < trial.ends_at < trial.purge_at
    assert renewal_reminder_at(terms, period_end=period_end) < period_end


@POLICY
@given(start=moments, n=st.integers(0, 36))
def test_add_months_is_calendar_addition(start: datetime, n: int) -> None:
    later = add_months(start, n)
    months = (later.year - start.year) * 12 + later.month - start.month
    assert months == n
    assert later.day <= start.day
    assert later.time() == start.time()
    assert later.tzinfo is start.tzinfo
