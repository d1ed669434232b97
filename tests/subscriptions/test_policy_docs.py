"""docs/policy.md quotes rows of the policy table; check every quoted figure against the table.

An example in the doc is a paragraph starting with **Example `row-id`**. For each one, the row
must exist and the paragraph must state the row's outcome: its amounts (as "€449.16"), its dates
(as "28 February 2026", in the zone of the datetime) and, where nothing is paid or refunded, the
word "nothing". Each rule, plan-change mode and policy function needs at least one example.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date

from subscriptions.money import format_money
from subscriptions.policy import PlanChangeQuote, RefundQuote, TrialDates
from tests.subscriptions.test_policy import CASES, Case

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
EXAMPLE = re.compile(r"\*\*Example `(?P<id>[a-z0-9-]+)`\*\*(?P<body>.*?)(?=\n[ \t]*\n|\Z)", re.S)
BY_ID = {case.id: case for case in CASES}


def examples() -> dict[str, str]:
    found: dict[str, str] = {}
    for match in EXAMPLE.finditer(DOC.read_text(encoding="utf-8")):
        assert match["id"] not in found, f"example {match['id']} appears twice"
        found[match["id"]] = " ".join(match["body"].split())
    return found


def long_date(moment: datetime) -> str:
    return str(format_date(moment.date(), "d MMMM yyyy", locale="en"))


def money(amount: int, currency: str) -> str:
    return format_money(amount, currency, "en")


def facts(case: Case) -> list[str]:
    """What a paragraph quoting this row must say."""
    expected: Any = case.expected
    if isinstance(expected, RefundQuote):
        said = [money(expected.amount, expected.currency)] if expected.amount else ["nothing"]
        if expected.rule in ("guarantee", "renewal_grace"):
            said.append("immediately")
        elif expected.rule == "remaining_months":
            said.append(long_date(expected.ends_at))
        return said
    if isinstance(expected, PlanChangeQuote):
        said = [money(a, expected.currency) for a in (expected.amount_due, expected.credit) if a]
        said = said or ["nothing"]
        if expected.mode == "next_period":
            said.append(long_date(expected.effective_at))
        if expected.mode == "review":
            said.append("review")
        return said
    if isinstance(expected, TrialDates):
        return [long_date(d) for d in (expected.ends_at, expected.warning_at, expected.purge_at)]
    if isinstance(expected, tuple):
        return [long_date(moment) for moment in expected]
    if isinstance(expected, int):  # later_charge_refund: an amount in euros
        return [money(expected, "EUR")] if expected else ["nothing"]
    if expected is None:  # refund_quote_holds_until: nothing due, nothing to hold
        return ["nothing"]
    assert isinstance(expected, datetime), case.id
    return [long_date(expected)]


def test_doc_has_examples() -> None:
    assert len(examples()) >= 30


@pytest.mark.parametrize("example_id", sorted(examples()))
def test_example_matches_the_table(example_id: str) -> None:
    assert example_id in BY_ID, f"docs/policy.md quotes {example_id}, which is not in the table"
    body = examples()[example_id]
    for fact in facts(BY_ID[example_id]):
        assert fact.lower() in body.lower(), f"{example_id}: the doc should say {fact!r}"


def test_every_rule_mode_and_function_has_an_example() -> None:
    quoted = [BY_ID[i] for i in examples() if i in BY_ID]
    rules = {c.expected.rule for c in quoted if isinstance(c.expected, RefundQuote)}
    modes = {c.expected.mode for c in quoted if isinstance(c.expected, PlanChangeQuote)}
    functions = {c.call.__name__ for c in quoted}
    assert rules == {"guarantee", "renewal_grace", "remaining_months", "none"}
    assert modes == {"none", "review", "immediate", "next_period"}
    assert functions >= {
        "refund_quote",
        "cancellation_date",
        "plan_change_quote",
        "payment_retry_schedule",
        "trial_dates",
        "renewal_reminder_at",
    }


def test_a_wrong_figure_would_be_caught() -> None:
    # The check itself: a paragraph quoting another amount does not pass.
    case = BY_ID["months-jan31-first-month"]
    assert "€449.16" in facts(case)
    assert "€449.17" not in facts(case)
