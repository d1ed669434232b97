"""Every refund made and every credit granted issues a credit note (facture d'avoir) against
its invoice, once, in its own gap-free sequence; through localstripe, rule by rule."""

import re
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import facturx
import pytest
import stripe
from django.contrib.auth.models import Permission
from django.db import connection
from lxml import etree

from subscriptions.invoices import document_pdf
from subscriptions.models import (
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceKind,
)
from subscriptions.services.billing import billing_run
from subscriptions.services.cancellation import cancellation_confirm, cancellation_undo
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import (
    change_request_create,
    change_request_decide,
    change_request_quote,
)
from subscriptions.services.credit_notes import credit_note_issue
from subscriptions.services.payments import charge_refunds_sync
from subscriptions.services.plan_changes import plan_change, plan_change_quote_for, quote_token
from subscriptions.services.refunds import refund_review_decide
from tests.factories import UserFactory
from tests.subscriptions.conftest import REFUNDS_T0 as T0

pytestmark = pytest.mark.django_db(transaction=True)


def only_note(invoice):
    (note,) = CreditNote.objects.filter(invoice=invoice)
    return note


# --- one credit note per refund rule ---------------------------------------------------------
# Each scenario makes one refund or credit the way the customer or staff would, and returns
# (the amount that went back or was credited, the invoice it corrects).


def guarantee(ctx):
    invoice = ctx.subscribed(ctx.customer)
    refund = ctx.ask_refund(ctx.customer, invoice, T0 + timedelta(days=2))
    assert refund.rule == "guarantee"
    return refund.amount, invoice


def forgotten_renewal(ctx):
    user = UserFactory(country="FR", time_zone="Europe/Paris")
    ctx.add_card(user)
    sub = subscribe(
        user=user, price=ctx.eur_price("pro", "month"), now=datetime(2026, 4, 12, 8, tzinfo=UTC)
    )
    billing_run(now=sub.next_billing_at)
    renewal = Invoice.objects.get(user=user, kind=InvoiceKind.RENEWAL)
    at = datetime(2026, 5, 13, 9, 0, tzinfo=UTC)
    refund = ctx.ask_refund(user, renewal, at, reason="no_longer_used")
    assert refund.rule == "renewal_grace"
    return refund.amount, renewal


def remaining_months(ctx):
    invoice = ctx.subscribed(ctx.customer, "pro", "year")
    sub = invoice.subscription
    at = T0 + timedelta(days=40)
    _sub, (refund,) = cancellation_confirm(user=ctx.customer, subscription=sub, reason="", now=at)
    assert refund.rule == "remaining_months"
    assert stripe.Refund.retrieve(refund.stripe_refund_id).amount == refund.amount
    return refund.amount, invoice


def keep_my_subscription(ctx):
    """The refund of the remaining months, charged back when the customer keeps the
    subscription: the refund's credit note stands, and the months charged again are a new
    invoice (numbered as invoices are) referencing the invoice refunded, never an edit of it
    nor a credit note cancelled."""
    amount, invoice = remaining_months(ctx)
    sub = invoice.subscription
    cancellation_undo(user=ctx.customer, subscription=sub, now=T0 + timedelta(days=41))
    back = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert back.total == amount
    assert re.fullmatch(r"2026-\d{6}", back.number)
    assert invoice.number in back.lines.get().description
    assert Invoice.objects.get(pk=invoice.pk).total == invoice.total
    # The VAT the credit note gave back is collected again, at the same rate: over the two
    # documents the VAT nets to nothing, as the money does.
    note = CreditNote.objects.get()
    assert (back.subtotal, back.tax, back.tax_rate_bps) == (note.subtotal, note.tax, 2000)
    return amount, invoice


def reviewed(amount):
    def staff_decided(ctx):
        invoice = ctx.subscribed(ctx.customer)
        at = T0 + timedelta(days=20)
        refund = ctx.ask_refund(ctx.customer, invoice, at, "service_problem", "Down for 5 days")
        assert not CreditNote.objects.exists()  # nothing is credited while staff review it
        refund_review_decide(
            refund=refund,
            actor=ctx.refund_decider,
            approve=True,
            amount=amount,
            reason="ok",
            now=at,
        )
        return amount, invoice

    return staff_decided


def plan_change_credit(ctx):
    # policy.md change-upgrade-yearly-to-monthly-credit: the unused part of the year is worth
    # more than the new month: nothing is charged, the difference is credited.
    invoice = ctx.subscribed(ctx.customer, "pro", "year")
    sub = invoice.subscription
    at = T0 + timedelta(days=180)
    target = ctx.eur_price("premium", "month")
    quote = plan_change_quote_for(subscription=sub, target=target, now=at)
    assert (quote.amount_due, quote.credit > 0) == (0, True)
    token = quote_token(subscription=sub, target=target, quoted_at=at)
    plan_change(user=ctx.customer, subscription=sub, target=target, token=token, now=at)
    return quote.credit, invoice


def contract_change_credit(ctx):
    """Under a commitment, staff approve a higher plan on the same year (charged), then, later
    in that year, a monthly plan worth less than the unused year: the credit is the year's,
    and more than the change charged in between."""
    first = ctx.subscribed(ctx.customer, "starter", "year")
    sub = first.subscription
    approve = ctx.approve_contract_change
    upgrade = approve(sub, ctx.eur_price("standard", "year"), T0 + timedelta(days=10))
    quote = approve(sub, ctx.eur_price("premium", "month"), T0 + timedelta(days=100))
    assert upgrade.total < quote.credit < first.total
    return quote.credit, first


RULES = {
    "guarantee": guarantee,
    "forgotten_renewal": forgotten_renewal,
    "remaining_months": remaining_months,
    "keep_my_subscription": keep_my_subscription,
    "staff_approved": reviewed(4900),
    "staff_partly_approved": reviewed(1500),
    "plan_change_credit": plan_change_credit,
    "contract_change_credit": contract_change_credit,
}
SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
CII = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


@pytest.fixture
def approve_contract_change(customer, reviewer):
    def _approve(sub, target, at):
        sub.refresh_from_db()
        change = change_request_create(
            user=customer, subscription=sub, target=target, reason="Need more", message=""
        )
        quote = change_request_quote(change=change, now=at)
        change_request_decide(change=change, actor=reviewer, approve=True, reason="", now=at)
        invoice = Invoice.objects.filter(subscription=sub, kind=InvoiceKind.PRORATION).last()
        return invoice if quote.amount_due else quote

    return _approve


@pytest.mark.parametrize("rule", list(RULES))
def test_every_refund_rule_issues_its_credit_note_on_the_invoice_it_corrects(
    rule,
    customer,
    catalog,
    add_card,
    eur_price,
    subscribed,
    ask_refund,
    refund_decider,
    approve_contract_change,
):
    ctx = SimpleNamespace(**locals())
    amount, corrected = RULES[rule](ctx)

    (note,) = CreditNote.objects.all()
    assert note.total == amount > 0
    assert note.subtotal + note.tax == note.total
    assert note.number == f"AV-{note.issued_at.year}-000001"
    assert note.number != corrected.number
    assert note.invoice == corrected
    assert note.currency == corrected.currency
    refunded = rule not in ("plan_change_credit", "contract_change_credit")
    assert note.reason == (CreditNoteReason.REFUND if refunded else CreditNoteReason.CREDIT)
    said = "Refund of invoice" if refunded else "Credit on invoice"
    assert note.lines.get().description.startswith(f"{said} {corrected.number} / ")
    # The accountant's copy says the same: a credit note (381) referencing that invoice.
    _name, xml = facturx.get_xml_from_pdf(document_pdf(note), check_xsd=True)
    root = etree.fromstring(xml)
    assert root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=CII) == note.number
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=CII) == "381"
    reference = SETTLEMENT + "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
    assert root.findtext(reference, namespaces=CII) == corrected.number


def test_the_guarantee_refund_issues_a_credit_note_for_what_went_back(
    customer, catalog, subscribed, ask_refund
):
    invoice = subscribed(customer)
    at = T0 + timedelta(days=2)
    refund = ask_refund(customer, invoice, at)
    note = only_note(invoice)
    assert note.refund == refund
    assert note.number == f"AV-{at.year}-000001"
    assert note.reason == CreditNoteReason.REFUND
    # 4900 back of 5880 (taxes are never refunded, 002): 4083 before tax + 817 VAT.
    assert (note.total, note.subtotal, note.tax) == (4900, 4083, 817)
    assert note.tax_rate_bps == invoice.tax_rate_bps
    assert note.refunded_at == at
    assert note.buyer == invoice.buyer
    assert note.seller == invoice.seller
    assert note.lines.get().description == (
        f"Refund of invoice {invoice.number} / Remboursement de la facture {invoice.number}"
    )
    # Asking again changes nothing: one refund, one credit note.
    ask_again = CreditNote.objects.count()
    credit_note_issue(invoice=invoice, amount=refund.amount, now=at, refund=refund)
    assert CreditNote.objects.count() == ask_again == 1


def test_a_rejected_refund_issues_no_credit_note(customer, catalog, subscribed, ask_refund):
    invoice = subscribed(customer)
    at = T0 + timedelta(days=20)
    refund = ask_refund(customer, invoice, at, reason="service_problem", details="Down for 5 days")
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="decide_refund"))
    staff = type(staff).objects.get(pk=staff.pk)
    refund_review_decide(refund=refund, actor=staff, approve=False, amount=0, reason="no", now=at)
    assert not CreditNote.objects.exists()


def test_a_refund_made_from_the_stripe_dashboard_gets_its_credit_note_once(
    customer, catalog, subscribed
):
    invoice = subscribed(customer)
    stripe.Refund.create(charge=invoice.stripe_charge_id, amount=700)
    at = T0 + timedelta(days=3)
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=at)
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=at)  # the webhook again
    note = only_note(invoice)
    assert (note.total, note.refunded_at, note.refund) == (700, at, None)


def test_the_webhook_of_a_portal_refund_adds_no_second_credit_note(
    customer, catalog, subscribed, ask_refund
):
    invoice = subscribed(customer)
    refund = ask_refund(customer, invoice, T0 + timedelta(days=2))
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=T0 + timedelta(days=2))
    assert only_note(invoice).refund == refund


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers: nothing to race"
)
def test_twenty_concurrent_credit_notes_are_numbered_without_gaps(customer, catalog, subscribed):
    invoice = subscribed(customer)
    at = T0 + timedelta(days=1)
    barrier = threading.Barrier(20)
    errors = []

    def worker():
        from django.db import transaction

        barrier.wait()
        try:
            with transaction.atomic():
                credit_note_issue(invoice=Invoice.objects.get(pk=invoice.pk), amount=10, now=at)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(CreditNote.objects.values_list("number", flat=True))
    assert numbers == [f"AV-2026-{n:06d}" for n in range(1, 21)]


def test_the_receipt_attaches_the_invoice_and_the_refund_email_its_credit_note(
    customer, catalog, mailoutbox, subscribed, ask_refund
):
    invoice = subscribed(customer)
    receipt = next(m for m in mailoutbox if "nous avons bien reçu votre paiement" in m.body)
    ((name, pdf, kind),) = receipt.attachments
    assert (name, kind) == (f"invoice-{invoice.number}.pdf", "application/pdf")
    assert f"La facture {invoice.number} est jointe à cet e-mail." in receipt.body
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert invoice.number.encode() in xml

    ask_refund(customer, invoice, T0 + timedelta(days=2))
    note = only_note(invoice)
    refund_mail = mailoutbox[-1]
    ((name, pdf, kind),) = refund_mail.attachments
    assert name == f"credit-note-{note.number}.pdf"
    assert f"L’avoir {note.number} est joint à cet e-mail." in refund_mail.body
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml
    assert invoice.number.encode() in xml


def test_a_credit_larger_than_what_is_left_of_the_period_s_invoice_goes_on_the_others(
    customer, catalog, subscribed, eur_price
):
    """Remaining months refunded, then charged again by "keep my subscription", then a
    change to a monthly plan credits the unused year: the year's invoice takes what its
    refund left of it, the charge-back invoice the rest; together, exactly the credit."""
    first = subscribed(customer, "pro", "year")
    sub = first.subscription
    sub, (refund,) = cancellation_confirm(
        user=customer, subscription=sub, reason="", now=T0 + timedelta(days=40)
    )
    cancellation_undo(user=customer, subscription=sub, now=T0 + timedelta(days=41))
    back = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    at = T0 + timedelta(days=100)
    target = eur_price("premium", "month")
    sub.refresh_from_db()
    quote = plan_change_quote_for(subscription=sub, target=target, now=at)
    left_on_first = first.total - refund.amount
    assert quote.credit > left_on_first  # more than the refund left of the year's invoice
    token = quote_token(subscription=sub, target=target, quoted_at=at)
    plan_change(user=customer, subscription=sub, target=target, token=token, now=at)

    credits = CreditNote.objects.filter(reason=CreditNoteReason.CREDIT).order_by("number")
    assert [(note.invoice, note.total) for note in credits] == [
        (first, left_on_first),
        (back, quote.credit - left_on_first),
    ]
    assert [note.number for note in credits] == ["AV-2026-000002", "AV-2026-000003"]
    sub.refresh_from_db()
    assert sub.credit == quote.credit == sum(note.total for note in credits)
