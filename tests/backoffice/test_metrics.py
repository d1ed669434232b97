"""The metrics page against a history built row by row: each figure is known in advance.

Now is 15 June 2026 (Paris): the charts run from July 2025 to June 2026."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from subscriptions.models import (
    ChangeRequestStatus,
    ContractChangeRequest,
    Invoice,
    PaymentAttempt,
    RefundRequest,
    Subscription,
)
from subscriptions.taxes import customer_tax
from tests.backoffice.conftest import price
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
numbers = iter(range(1, 1000))


def at(month, day=1, hour=9):
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def subscription(code, interval, currency="EUR", **fields):
    p = price(code, interval, currency)
    fields.setdefault("status", "active")
    return Subscription.objects.create(
        user=UserFactory(), plan=p.plan, price=p, currency=currency, **fields
    )


def invoice(sub, start, end, *, kind="renewal", status="paid"):
    p = sub.price
    treatment = customer_tax(sub.user)
    amounts = p.amounts_for(treatment)
    return Invoice.objects.create(
        number=f"2026-{next(numbers):06d}",
        user=sub.user,
        subscription=sub,
        price=p,
        kind=kind,
        status=status,
        currency=sub.currency,
        subtotal=amounts.subtotal,
        tax=amounts.tax,
        total=amounts.total,
        tax_rate_bps=treatment.rate_bps,
        period_start=start,
        period_end=end,
        issued_at=start,
        paid_at=start if status == "paid" else None,
    )


@pytest.fixture
def history(catalog):
    pro = subscription("pro", "month")  # 49,00 € a month before tax
    invoice(pro, at(5), at(6))
    invoice(pro, at(6), at(7))
    standard = subscription("standard", "year")  # 390,00 € a year: 32,50 € a month
    invoice(standard, at(1, 10), datetime(2027, 1, 10, 9, tzinfo=UTC), kind="first")
    usd = subscription("pro", "month", "USD")
    invoice(usd, at(6, 2), at(7, 2), kind="first")
    unpaid = subscription("premium", "month")
    invoice(unpaid, at(6), at(7), status="open")  # not revenue

    # Trials: three started in March, two became paid.
    for paid in (True, True, False):
        subscription(
            "pro",
            "month",
            status="active" if paid else "expired",
            trial_started_at=at(3, 3),
            first_paid_at=at(3, 18) if paid else None,
        )
    # Churn: two cancellations in April, one with its reason.
    subscription("pro", "month", cancel_requested_at=at(4, 8), cancel_reason="Too expensive")
    subscription("pro", "month", cancel_requested_at=at(4, 20))

    # Refunds: a guarantee in May, remaining months in June, one rejected (not money).
    refund_base = {"reason": "other", "details": "", "currency": "EUR"}
    paid = Invoice.objects.filter(subscription=pro)
    RefundRequest.objects.create(
        user=pro.user,
        invoice=paid[0],
        rule="guarantee",
        status="succeeded",
        quoted_amount=4900,
        amount=4900,
        refunded_at=at(5, 20),
        **refund_base,
    )
    RefundRequest.objects.create(
        user=pro.user,
        invoice=paid[1],
        rule="remaining_months",
        status="succeeded",
        quoted_amount=2000,
        amount=2000,
        refunded_at=at(6, 3),
        **refund_base,
    )
    std_invoice = Invoice.objects.get(subscription=standard)
    RefundRequest.objects.create(
        user=standard.user,
        invoice=std_invoice,
        rule="review",
        status="rejected",
        quoted_amount=0,
        amount=0,
        **refund_base,
    )
    # Recovered by a retry in May; a failed retry is not.
    attempt = PaymentAttempt.objects.create(
        invoice=paid[0],
        number=2,
        status="succeeded",
        amount=5880,
        currency="EUR",
        trigger="retry",
    )
    PaymentAttempt.objects.filter(pk=attempt.pk).update(created_at=at(5, 4))
    failed = PaymentAttempt.objects.create(
        invoice=paid[0], number=1, status="failed", amount=5880, currency="EUR", trigger="retry"
    )
    PaymentAttempt.objects.filter(pk=failed.pk).update(created_at=at(5, 2))
    # Change requests: approved in February, rejected in March, one waiting since June.
    for status, decided, created in (
        (ChangeRequestStatus.APPROVED, at(2, 9), at(2, 2)),
        (ChangeRequestStatus.REJECTED, at(3, 9), at(3, 2)),
        (ChangeRequestStatus.PENDING, None, at(6, 2)),
    ):
        sub = subscription("standard", "year")
        change = ContractChangeRequest.objects.create(
            user=sub.user,
            subscription=sub,
            target_price=price("premium", "year"),
            reason="x",
            status=status,
            decided_at=decided,
        )
        ContractChangeRequest.objects.filter(pk=change.pk).update(created_at=created)


def figures(chart):
    """{month label: [values]} of a chart, as the table alternative shows them."""
    return dict(chart.table_rows())


def get(charts, slug):
    return next(c for c in charts if c.slug == slug)


def test_each_figure_matches_the_history(staff_client, history, django_assert_max_num_queries):
    client = staff_client("Billing", language="fr")
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(20):
        page = client.get("/fr/admin/metrics/")
    assert page.status_code == 200
    charts = {c.slug: c for c in page.context["charts"]}
    mrr = figures(charts["mrr-eur"])
    assert mrr["déc. 2025"] == ["0,00\xa0€"]
    # January to April: a twelfth of 390,00 €; May and June: plus Pro's 49,00 €.
    assert [mrr[m] for m in ("janv. 2026", "avr. 2026", "mai 2026", "juin 2026")] == [
        ["32,50\xa0€"],
        ["32,50\xa0€"],
        ["81,50\xa0€"],
        ["81,50\xa0€"],
    ]
    # ARR: 12 x the exact MRR, 390,00 € + 12 x 49,00 €.
    assert figures(charts["arr-eur"])["juin 2026"] == ["978,00\xa0€"]
    assert figures(charts["mrr-usd"])["juin 2026"] == ["55,00\xa0$US"]  # Pro, monthly, in dollars
    plans = charts["plans"]
    assert [label for _, label in plans.columns] == ["Pro", "Standard"]
    assert figures(plans)["juin 2026"] == ["2", "1"]
    assert figures(plans)["avr. 2026"] == ["0", "1"]
    assert figures(charts["trials"])["mars 2026"] == ["3", "2"]
    assert figures(charts["churn"])["avr. 2026"] == ["2", "1"]
    assert page.context["reasons"] == ["Too expensive"]
    refunds = charts["refunds"]
    assert [label for _, label in refunds.columns] == [
        "garantie satisfait ou remboursé",
        "mois entiers restants",
    ]
    assert figures(refunds)["mai 2026"] == ["1", "0"]
    assert figures(charts["refunded-eur"])["juin 2026"] == ["20,00\xa0€"]
    assert figures(charts["recovered"])["mai 2026"] == ["1"]
    assert figures(charts["recovered-eur"])["mai 2026"] == ["58,80\xa0€"]
    changes = figures(charts["changes"])
    assert changes["févr. 2026"] == ["0", "1", "0", "0"]
    assert changes["mars 2026"] == ["0", "0", "1", "0"]
    assert changes["juin 2026"] == ["1", "0", "0", "0"]
    html = page.content.decode()
    assert html.count('<svg role="img"') == len(charts)
    assert "<script" not in html.split('id="content-main"', 1)[1]

    # More history, same queries.
    for _ in range(5):
        sub = subscription("pro", "month")
        invoice(sub, at(6), at(7))
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(20):
        again = client.get("/fr/admin/metrics/")
    assert figures({c.slug: c for c in again.context["charts"]}["plans"])["juin 2026"] == [
        "7",
        "1",
    ]


def test_each_chart_downloads_as_csv_with_major_units(staff_client, history):
    client = staff_client("Billing")
    with time_machine.travel(NOW, tick=False):
        response = client.get("/en/admin/metrics/", {"csv": "mrr-eur"})
        missing = client.get("/en/admin/metrics/", {"csv": "nothing"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="mrr-eur.csv"' in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0] == "month,MRR"
    assert lines[1] == "2025-07,0.00"
    assert lines[-2:] == ["2026-05,81.50", "2026-06,81.50"]
    assert missing.status_code == 404


def test_support_may_read_the_numbers_but_customers_cannot(staff_client, customer, catalog):
    assert staff_client("Support").get("/en/admin/metrics/").status_code == 200
    browser = Client()
    browser.force_login(customer)
    assert browser.get("/en/admin/metrics/").status_code == 302  # to the login
