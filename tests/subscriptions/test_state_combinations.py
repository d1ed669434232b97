"""The table of docs/policy.md section 8, "Pending states combined": each customer action in
each pending state does what the table says. The table is read from the document, so the
page staff read and the code cannot drift apart."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from allauth.account.models import EmailAddress

from subscriptions.models import (
    ContractChangeRequest,
    Invoice,
    InvoiceStatus,
    Price,
    RefundReason,
    RefundRequest,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.billing import billing_run
from subscriptions.services.cancellation import cancellation_confirm, cancellation_undo
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import change_request_create
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.payments import invoice_pay_now
from subscriptions.services.plan_changes import plan_change, quote_token
from subscriptions.services.refunds import refund_request_create
from subscriptions.services.trials import trial_start
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

POLICY = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AT = T0 + timedelta(days=20)  # after the 14-day guarantee, inside the first month


def price(code, interval):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency="EUR"
    )


def table():
    """{(state, action): cell} from the Markdown table between the two markers."""
    text = POLICY.read_text(encoding="utf-8")
    body = text.split("<!-- state-table -->")[1]
    rows = [line for line in body.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    cells = {}
    for line in rows[2:]:
        values = [c.strip() for c in line.strip("|").split("|")]
        state = values[0].strip("* ")
        for action, cell in zip(header[1:], values[1:], strict=True):
            cells[(state, action)] = cell
    return cells


def outcome(cell):
    """The cell's first words: **allowed**, **refused** or **not offered** (nothing to act
    on: no invoice to pay, no payment to refund); what follows is for staff."""
    found = re.match(r"\*\*(allowed|refused|not offered)\*\*", cell)
    assert found, f"a cell must start with **allowed**, **refused** or **not offered**: {cell!r}"
    return found.group(1)


# --- the pending states ----------------------------------------------------------------------


def _customer(add_card, card="pm_card_visa"):
    user = UserFactory(language="en")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    add_card(user, card)
    return user


def state_trial(add_card):
    user = _customer(add_card)
    trial_start(
        user=user,
        plan=Price.objects.get(plan__code="pro", interval="month", currency="EUR").plan,
        now=AT - timedelta(days=2),
    )
    return user


def state_scheduled_downgrade(add_card):
    user = _customer(add_card)
    sub = subscribe(user=user, price=price("pro", "month"), now=T0)
    target = price("starter", "year")
    token = quote_token(subscription=sub, target=target, quoted_at=AT, amount=0)
    plan_change(user=user, subscription=sub, target=target, token=token, now=AT)
    assert Subscription.objects.get(user=user).scheduled_price == target
    return user


def state_pending_contract_change(add_card):
    user = _customer(add_card)
    sub = subscribe(user=user, price=price("starter", "year"), now=T0)
    change_request_create(
        user=user, subscription=sub, target=price("standard", "year"), reason="more", message=""
    )
    return user


def state_cancellation_recorded(add_card):
    user = _customer(add_card)
    sub = subscribe(user=user, price=price("pro", "month"), now=T0)
    cancellation_confirm(user=user, subscription=sub, reason="", now=AT)
    return user


def state_refund_under_review(add_card):
    user = _customer(add_card)
    subscribe(user=user, price=price("pro", "month"), now=T0)
    refund_request_create(
        user=user,
        invoice=Invoice.objects.get(user=user),
        reason=RefundReason.SERVICE_PROBLEM,
        details="down for days",
        now=AT,
    )
    assert RefundRequest.objects.get(user=user).status == RefundStatus.REVIEW
    return user


def _failed_renewal(add_card, days):
    user = _customer(add_card)
    sub = subscribe(user=user, price=price("pro", "month"), now=T0 - timedelta(days=30))
    add_card(user, "pm_card_chargeCustomerFail")
    due = sub.next_billing_at
    for day in days:
        billing_run(now=due + timedelta(days=day))
    add_card(user)  # a good card again: the action itself decides
    return user


def state_retry_in_progress(add_card):
    user = _failed_renewal(add_card, [0])
    assert Subscription.objects.get(user=user).status == SubscriptionStatus.PAST_DUE
    return user


def state_suspended(add_card):
    user = _failed_renewal(add_card, [0, 1, 3, 7])
    assert Subscription.objects.get(user=user).status == SubscriptionStatus.SUSPENDED
    return user


STATES = {
    "trial": state_trial,
    "scheduled downgrade": state_scheduled_downgrade,
    "pending contract change": state_pending_contract_change,
    "cancellation recorded": state_cancellation_recorded,
    "refund under review": state_refund_under_review,
    "retry in progress": state_retry_in_progress,
    "suspended": state_suspended,
}


# --- the actions -----------------------------------------------------------------------------


def _live(user):
    return Subscription.objects.select_related("price", "plan").get(
        user=user, status__in=["trialing", "active", "past_due", "suspended", "incomplete"]
    )


def _now(user):
    """The state's own moment: a failed renewal happens a month after T0's period."""
    sub = _live(user)
    if sub.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.SUSPENDED):
        return max(AT, (sub.current_period_start or AT) + timedelta(days=8))
    return AT


def action_subscribe(user, now):
    subscribe(user=user, price=price("premium", "month"), now=now)


def action_pay_open_invoice(user, now):
    invoice = Invoice.objects.filter(user=user).order_by("-issued_at", "-pk").first()
    invoice_pay_now(user=user, invoice=invoice, now=now)


UP = {"starter": "premium", "standard": "premium", "pro": "premium", "premium": "premium"}
DOWN = {"starter": "pro", "standard": "starter", "pro": "standard", "premium": "pro"}


def _change(user, now, up):
    sub = _live(user)
    code = (UP if up else DOWN)[sub.plan.code]
    target = price(code, "month" if code in ("pro", "premium") else "year")
    token = quote_token(subscription=sub, target=target, quoted_at=now)
    plan_change(user=user, subscription=sub, target=target, token=token, now=now)


def action_upgrade(user, now):
    _change(user, now, up=True)


def action_downgrade(user, now):
    _change(user, now, up=False)


def action_contract_change_request(user, now):
    sub = _live(user)
    target = price("premium", "year")
    change_request_create(user=user, subscription=sub, target=target, reason="r", message="")


def action_cancel(user, now):
    cancellation_confirm(user=user, subscription=_live(user), reason="", now=now)


def action_undo_cancellation(user, now):
    cancellation_undo(user=user, subscription=_live(user), now=now)


def action_refund_request(user, now):
    invoice = (
        Invoice.objects.filter(user=user, status=InvoiceStatus.PAID).order_by("-issued_at").first()
    )
    refund_request_create(
        user=user, invoice=invoice, reason=RefundReason.SERVICE_PROBLEM, details="x", now=now
    )


ACTIONS = {
    "subscribe": action_subscribe,
    "pay open invoice": action_pay_open_invoice,
    "upgrade": action_upgrade,
    "downgrade": action_downgrade,
    "contract change request": action_contract_change_request,
    "cancel": action_cancel,
    "undo cancellation": action_undo_cancellation,
    "refund request": action_refund_request,
}


def test_the_table_covers_every_state_and_action():
    cells = table()
    assert {state for state, _a in cells} == set(STATES)
    assert {action for _s, action in cells} == set(ACTIONS)
    assert len(cells) == len(STATES) * len(ACTIONS)


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_action_in_each_pending_state_does_what_the_table_says(
    state, action, catalog, add_card, stripe_server
):
    expected = outcome(table()[(state, action)])
    with time_machine.travel(T0, tick=False):
        user = STATES[state](add_card)
    now = _now(user)
    before = _snapshot(user)
    if expected == "not offered":  # the page offers no such button: nothing to act on
        wanted = {"refund request": InvoiceStatus.PAID, "pay open invoice": InvoiceStatus.OPEN}
        assert action in wanted, f"{state} × {action}: only paying and refunding need a payment"
        assert not Invoice.objects.filter(user=user, status=wanted[action]).exists()
        return
    with time_machine.travel(now, tick=False):
        try:
            ACTIONS[action](user, now)
        except SubscriptionError as exc:
            got, message = "refused", exc.message
        else:
            got, message = "allowed", ""
    assert got == expected, f"{state} × {action}: {got} ({message})"
    if got == "refused":
        assert message.strip(), "a refusal says why"
        assert _snapshot(user) == before, "a refusal changes nothing"


def _snapshot(user):
    sub = _live(user) if Subscription.objects.filter(user=user).exists() else None
    return (
        sub and (sub.status, sub.price_id, sub.scheduled_price_id, sub.cancel_at, sub.credit),
        list(Invoice.objects.filter(user=user).values_list("number", "status", "total")),
        list(RefundRequest.objects.filter(user=user).values_list("pk", "status", "amount")),
        list(ContractChangeRequest.objects.filter(user=user).values_list("pk", "status")),
    )
