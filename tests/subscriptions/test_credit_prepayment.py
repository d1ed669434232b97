"""A credit kept on the account (the unused part of a plan) settles the next invoices as a
prepayment: the credit note that made it already gave its VAT back, so each later invoice keeps
its full base and VAT, and only what the credit does not cover is charged to the card. The
quote, the card charge, the invoice, its PDF, its Factur-X XML and the receipt say the same."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import stripe
import time_machine
from django.utils import timezone

from subscriptions.invoices import document_pdf
from subscriptions.models import CreditNote, Invoice, InvoiceKind, InvoiceStatus, Price
from subscriptions.money import format_money
from subscriptions.services.billing import billing_run
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import change_request_create, change_request_decide
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.invoices import period_total
from subscriptions.services.plan_changes import plan_change, plan_change_quote_for, quote_token
from tests.subscriptions.test_documents import NS, amounts, pdf_text, xml_of

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
PREMIUM_MONTH = (7900, 1580, 9480)  # before tax, 20 % VAT, total


def price(code, interval):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency="EUR"
    )


def card_charges(user):
    charges = stripe.Charge.list(customer=user.billing.stripe_customer_id)
    return sorted(c.amount for c in charges if c.status == "succeeded")


@pytest.fixture
def credited(customer, catalog, add_card):
    """Pro yearly, then Premium monthly half-way through the year: the unused part of the year
    is worth more than the new month, and the difference is kept as a credit."""
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "year"), now=T0)
    at = T0 + timedelta(days=180)
    target = price("premium", "month")
    quote = plan_change_quote_for(subscription=sub, target=target, now=at)
    assert quote.amount_due == 0
    assert quote.credit > 2 * PREMIUM_MONTH[2]
    token = quote_token(subscription=sub, target=target, quoted_at=at)
    sub = plan_change(user=customer, subscription=sub, target=target, token=token, now=at)
    sub.refresh_from_db()
    assert sub.credit == quote.credit
    return sub


def test_the_credit_settles_renewals_before_the_card_and_the_vat_stays_whole(
    customer, credited, mailoutbox
):
    sub = credited
    (note,) = CreditNote.objects.filter(reason="credit")
    credit = sub.credit
    charged_before = card_charges(customer)
    renewals = []
    while credit >= 0 and len(renewals) < 4:
        expected_due = max(0, PREMIUM_MONTH[2] - credit)
        # What the renewal reminder and the subscription page quote is what the card pays.
        assert period_total(sub, sub.price, customer) == expected_due
        billing_run(now=sub.current_period_end)
        renewal = Invoice.objects.filter(kind=InvoiceKind.RENEWAL).latest("issued_at")
        renewals.append(renewal)
        assert (renewal.subtotal, renewal.tax, renewal.total) == PREMIUM_MONTH
        assert renewal.credit_applied == min(credit, PREMIUM_MONTH[2])
        assert renewal.amount_due == expected_due
        assert renewal.status == InvoiceStatus.PAID
        sub.refresh_from_db()
        assert sub.credit == credit - renewal.credit_applied
        credit = sub.credit
        if credit == 0:
            break
    partly = renewals[-1]
    assert 0 < partly.amount_due < PREMIUM_MONTH[2]
    # The card paid only what the credit left: one charge, the last renewal's remainder.
    assert card_charges(customer) == sorted([*charged_before, partly.amount_due])
    # Every euro of the credit note went to invoices, no more.
    assert sum(r.credit_applied for r in renewals) == note.total

    receipt = next(m for m in mailoutbox if partly.number in m.subject)
    assert "payée, 94,80 € par votre crédit" not in receipt.body  # not the whole invoice
    assert f"{format_eur(partly.credit_applied)} par votre crédit" in receipt.body
    assert f"{format_eur(partly.amount_due)} par carte" in receipt.body
    covered = next(m for m in mailoutbox if renewals[0].number in m.subject)
    assert "réglée en totalité par votre crédit" in covered.body
    assert "rien n’a été débité sur votre carte" in covered.body


def format_eur(minor):
    euros, cents = divmod(minor, 100)
    return f"{euros},{cents:02d}\u00a0€"


def test_the_pdf_and_the_xml_show_the_credit_as_a_prepayment(customer, credited, tmp_path):
    sub = credited
    (note,) = CreditNote.objects.filter(reason="credit")
    # Spend the credit down to less than a month, then bill the month it partly covers.
    while sub.credit >= PREMIUM_MONTH[2]:
        billing_run(now=sub.current_period_end)
        sub.refresh_from_db()
    billing_run(now=sub.current_period_end)
    invoice = Invoice.objects.filter(kind=InvoiceKind.RENEWAL).latest("issued_at")
    assert 0 < invoice.credit_applied < PREMIUM_MONTH[2]

    pdf = document_pdf(invoice, language="fr")
    text = " ".join(pdf_text(pdf, tmp_path).split())
    assert "Total HT 79,00 €" in text
    assert "TVA 20 % 15,80 €" in text
    assert "Total TTC 94,80 €" in text
    credit, card = (
        format_eur(v).replace("\u00a0", " ") for v in (invoice.credit_applied, invoice.amount_due)
    )
    # The totals box (its label wraps around the amount in the text layer).
    assert re.search(rf"Réglé par l’avoir (−{credit} )?{note.number}", text)
    assert f"−{credit}" in text
    assert f"Payé par carte {card}" in text
    assert f"{credit} réglés par l’avoir {note.number} ; {card} payés par carte le" in text

    root = xml_of(pdf)
    summary = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    summary += "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert amounts(root, summary + "ram:TaxBasisTotalAmount") == [Decimal("79.00")]
    assert amounts(root, summary + "ram:TaxTotalAmount") == [Decimal("15.80")]
    assert amounts(root, summary + "ram:GrandTotalAmount") == [Decimal("94.80")]
    # Paid: the credit and the card together settled it; nothing is left due.
    assert amounts(root, summary + "ram:TotalPrepaidAmount") == [Decimal("94.80")]
    assert amounts(root, summary + "ram:DuePayableAmount") == [Decimal("0.00")]
    # No allowance: the credit lowers what is due, not the taxable base.
    assert root.find(".//ram:SpecifiedTradeAllowanceCharge", NS) is None


@pytest.fixture
def credited_monthly(customer, catalog, add_card, reviewer):
    """Starter yearly, moved by an approved contract change to Pro monthly a week in: the
    unused year is credited (000), more than a month of Pro."""
    add_card(customer)
    sub = subscribe(user=customer, price=price("starter", "year"), now=T0)
    at = T0 + timedelta(days=7)
    change = change_request_create(
        user=customer, subscription=sub, target=price("pro", "month"), reason="SMS", message=""
    )
    change_request_decide(change=change, actor=reviewer, approve=True, reason="", now=at)
    sub.refresh_from_db()
    assert sub.price == price("pro", "month")
    assert sub.credit > 0
    return sub


def change_page(client, target):
    return client.get(f"/en/account/subscription/change/{target.pk}/").content.decode()


def test_an_upgrade_takes_the_credit_first_and_the_card_for_the_rest(
    customer, credited_monthly, client, mailoutbox
):
    sub = credited_monthly
    credit = sub.credit
    charged_before = card_charges(customer)
    customer.language = "en"
    customer.save(update_fields=["language"])
    client.force_login(customer)
    target = price("premium", "year")  # a new yearly period now, less the unused month
    with time_machine.travel(sub.current_period_start + timedelta(days=1), tick=False):
        quote = plan_change_quote_for(subscription=sub, target=target, now=timezone.now())
        assert quote.amount_due > credit
        card = quote.amount_due - credit
        html = change_page(client, target)
        assert (
            f"To pay today: {eur(quote.amount_due)}: {eur(credit)} from your credit, and "
            f"{eur(card)} by card."
        ) in html
        assert f"Confirm and pay {eur(card)}" in html
        token = re.search(r'name="quote" value="([^"]+)"', html).group(1)
        client.post(f"/en/account/subscription/change/{target.pk}/", {"quote": token})

    sub.refresh_from_db()
    assert sub.price == target
    assert sub.credit == 0
    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert (invoice.total, invoice.credit_applied, invoice.amount_due) == (
        quote.amount_due,
        credit,
        card,
    )
    assert card_charges(customer) == sorted([*charged_before, card])
    changed = next(m for m in mailoutbox if m.subject == "You are now on Premium")
    assert (
        f"The change comes to {eur(quote.amount_due)} (invoice {invoice.number}): "
        f"{eur(credit)} from your credit, and {eur(card)} charged to your card."
    ) in " ".join(changed.body.split())


def test_a_declined_upgrade_gives_the_credit_back(customer, credited_monthly, add_card):
    sub = credited_monthly
    credit = sub.credit
    add_card(customer, "pm_card_chargeCustomerFail")
    target = price("premium", "year")
    at = sub.current_period_start + timedelta(days=1)
    quote = plan_change_quote_for(subscription=sub, target=target, now=at)
    token = quote_token(
        subscription=sub, target=target, quoted_at=at, amount=quote.amount_due - credit
    )
    with pytest.raises(SubscriptionError, match="you stay on your current plan"):
        plan_change(user=customer, subscription=sub, target=target, token=token, now=at)
    sub.refresh_from_db()
    assert sub.price == price("pro", "month")
    assert sub.credit == credit  # nothing was charged: the credit is still there
    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert (invoice.status, invoice.credit_applied) == (InvoiceStatus.VOID, credit)


def eur(minor):
    return format_money(minor, "EUR", "en")
