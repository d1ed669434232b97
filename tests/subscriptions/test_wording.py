"""What a policy decision means to the customer, worded (English here; French comes from the
project's catalogs). The quotes are written out by hand, not computed by the policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings

from subscriptions.policy import PlanChangeQuote, RefundQuote
from subscriptions.wording import explain


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


needs_django = pytest.mark.skipif(
    not settings.configured, reason="explain() needs Django settings (run under pytest-django)"
)

EXPLAINED = [
    pytest.param(
        RefundQuote(4900, "EUR", "guarantee", utc(2026, 3, 3)),
        "You are within the money-back guarantee period: €49.00 will be refunded and your "
        "subscription will end immediately.",
        id="guarantee",
    ),
    pytest.param(
        RefundQuote(4900, "EUR", "renewal_grace", utc(2026, 6, 5)),
        "Your last automatic renewal can still be cancelled: €49.00 will be refunded and your "
        "subscription will end immediately.",
        id="renewal_grace",
    ),
    pytest.param(
        RefundQuote(44916, "EUR", "remaining_months", utc(2026, 2, 28, 10)),
        "Your subscription will run until February 28, 2026. The full months left after that, "
        "€449.16, will be refunded now.",
        id="remaining_months",
    ),
    pytest.param(
        RefundQuote(0, "EUR", "none", None),
        "No refund is due for the current billing period.",
        id="refund-none",
    ),
    pytest.param(
        PlanChangeQuote("none", None, 0),
        "This is already your plan: nothing changes.",
        id="change-none",
    ),
    pytest.param(
        PlanChangeQuote("review", None, 0),
        "Your plan is under a commitment, so this change has to be reviewed by our team. "
        "We will answer you by e-mail.",
        id="review",
    ),
    pytest.param(
        PlanChangeQuote("immediate", utc(2026, 4, 16), 1000, renews_at=utc(2026, 5, 1)),
        "Your new plan starts now. €10.00 will be charged today for the rest of the current "
        "billing period, which ends on May 1, 2026.",
        id="immediate",
    ),
    pytest.param(
        PlanChangeQuote("immediate", utc(2026, 4, 16), 1000),
        "Your new plan starts now. €10.00 will be charged today.",
        id="immediate-no-date",
    ),
    pytest.param(
        PlanChangeQuote("immediate", utc(2026, 5, 1), 0, renews_at=utc(2026, 5, 1)),
        "Your new plan starts now. Nothing is charged for the current billing period.",
        id="immediate-nothing-due",
    ),
    pytest.param(
        PlanChangeQuote(
            "immediate",
            utc(2026, 4, 16),
            47550,
            renews_at=utc(2027, 4, 16),
            starts_new_period=True,
        ),
        "Your new plan starts now, with a new billing period until April 16, 2027. €475.50 "
        "will be charged today, after deducting the unused part of your current plan.",
        id="immediate-new-period",
    ),
    pytest.param(
        PlanChangeQuote("immediate", utc(2026, 7, 2, 12), 0, credit=9600),
        "Your new plan starts now. Nothing is charged today, and the unused part of your "
        "current plan, €96.00, is credited to your account.",
        id="immediate-credit",
    ),
    pytest.param(
        PlanChangeQuote("next_period", utc(2026, 5, 1), 0),
        "Your new plan will start on May 1, 2026, at the beginning of your next billing "
        "period. Nothing is charged now.",
        id="next_period",
    ),
]


@needs_django
@pytest.mark.parametrize(("quote", "text"), EXPLAINED)
def test_explain_in_english(quote: RefundQuote | PlanChangeQuote, text: str) -> None:
    assert explain(quote, "en") == text


@needs_django
def test_explain_dates_in_customer_time_zone() -> None:
    # 28 Feb 23:30 UTC is already 1 March in Paris, still 28 February in New York.
    quote = RefundQuote(44916, "EUR", "remaining_months", utc(2026, 2, 28, 23, 30))
    assert "March 1, 2026" in explain(quote, "en")
    assert "February 28, 2026" in explain(quote, "en", tz="America/New_York")


@needs_django
def test_explain_uses_the_quote_currency() -> None:
    quote = RefundQuote(38500, "GBP", "guarantee", utc(2026, 3, 3))
    assert "£385.00" in explain(quote, "en")
