"""Every refund made and every credit granted issues a credit note (facture d'avoir) against
its invoice, once, in its own gap-free sequence; through localstripe, rule by rule."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import stripe
from django.contrib.auth.models import Permission
from django.db import connection

from subscriptions.models import (
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceKind,
    Price,
)
from subscriptions.services.billing import billing_run
from subscriptions.services.cancellation import cancellation_confirm, cancellation_undo
from subscriptions.services.checkout import subscribe
from subscriptions.services.credit_notes import credit_note_issue
from subscriptions.services.payments import charge_refunds_sync
from subscriptions.services.plan_changes import plan_change, plan_change_quote_for, quote_token
from subscriptions.services.refunds import refund_request_create, refund_review_decide
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday


def price(code, interval):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency="EUR"
    )


def subscribed(user, add_card, code="pro", interval="month", at=T0):
    add_card(user)
    subscribe(user=user, price=price(code, interval), now=at)
    return Invoice.objects.filter(user=user).latest("issued_at")


def ask(user, invoice, at, reason="changed_mind", details=""):
    return refund_request_create(user=user, invoice=invoice, reason=reason, details=details, now=at)


def only_note(invoice):
    (note,) = CreditNote.objects.filter(invoice=invoice)
    return note


def test_the_guarantee_refund_issues_a_credit_note_for_what_went_back(customer, catalog, add_card):
    invoice = subscribed(customer, add_card)
    at = T0 + timedelta(days=2)
    refund = ask(customer, invoice, at)
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


def test_a_forgotten_renewal_refund_issues_a_credit_note_on_the_renewal(catalog, add_card):
    user = UserFactory(country="FR", time_zone="Europe/Paris")
    add_card(user)
    sub = subscribe(
        user=user, price=price("pro", "month"), now=datetime(2026, 4, 12, 8, 0, tzinfo=UTC)
    )
    billing_run(now=sub.next_billing_at)
    renewal = Invoice.objects.get(user=user, kind=InvoiceKind.RENEWAL)
    refund = ask(user, renewal, datetime(2026, 5, 13, 9, 0, tzinfo=UTC), reason="no_longer_used")
    assert refund.rule == "renewal_grace"
    note = only_note(renewal)
    assert note.total == refund.amount == 4900
    assert not CreditNote.objects.exclude(invoice=renewal).exists()


def test_remaining_months_refunded_on_cancelling_issue_a_credit_note(customer, catalog, add_card):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "year"), now=T0)
    at = T0 + timedelta(days=40)
    sub, (refund,) = cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    assert refund.rule == "remaining_months"
    note = only_note(refund.invoice)
    assert note.total == refund.amount == stripe.Refund.retrieve(refund.stripe_refund_id).amount
    assert note.subtotal + note.tax == note.total


def test_keep_my_subscription_leaves_the_refund_credited_and_bills_the_months_again(
    customer, catalog, add_card
):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "year"), now=T0)
    at = T0 + timedelta(days=40)
    sub, (refund,) = cancellation_confirm(user=customer, subscription=sub, reason="", now=at)
    cancellation_undo(user=customer, subscription=sub, now=at + timedelta(days=1))
    note = only_note(refund.invoice)
    back = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    # The refund stands as credited; the months charged again are a new invoice, never an
    # edit of the first one.
    assert note.total == back.total == refund.amount
    assert Invoice.objects.get(pk=refund.invoice_id).total == refund.invoice.total
    # The VAT the credit note gave back is collected again, at the same rate: over the two
    # documents the VAT nets to nothing, as the money does.
    assert (back.subtotal, back.tax, back.tax_rate_bps) == (note.subtotal, note.tax, 2000)
    assert refund.invoice.number in back.lines.get().description


def test_a_staff_approved_partial_refund_issues_a_credit_note_for_its_amount(
    customer, catalog, add_card
):
    invoice = subscribed(customer, add_card)
    at = T0 + timedelta(days=20)
    refund = ask(customer, invoice, at, reason="service_problem", details="Down for 5 days")
    assert not CreditNote.objects.exists()  # nothing is credited while staff review it
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="decide_refund"))
    staff = type(staff).objects.get(pk=staff.pk)
    refund_review_decide(refund=refund, actor=staff, approve=True, amount=1500, reason="ok", now=at)
    note = only_note(invoice)
    assert (note.total, note.subtotal, note.tax) == (1500, 1250, 250)


def test_a_rejected_refund_issues_no_credit_note(customer, catalog, add_card):
    invoice = subscribed(customer, add_card)
    at = T0 + timedelta(days=20)
    refund = ask(customer, invoice, at, reason="service_problem", details="Down for 5 days")
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="decide_refund"))
    staff = type(staff).objects.get(pk=staff.pk)
    refund_review_decide(refund=refund, actor=staff, approve=False, amount=0, reason="no", now=at)
    assert not CreditNote.objects.exists()


def test_a_refund_made_from_the_stripe_dashboard_gets_its_credit_note_once(
    customer, catalog, add_card
):
    invoice = subscribed(customer, add_card)
    stripe.Refund.create(charge=invoice.stripe_charge_id, amount=700)
    at = T0 + timedelta(days=3)
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=at)
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=at)  # the webhook again
    note = only_note(invoice)
    assert (note.total, note.refunded_at, note.refund) == (700, at, None)


def test_the_webhook_of_a_portal_refund_adds_no_second_credit_note(customer, catalog, add_card):
    invoice = subscribed(customer, add_card)
    refund = ask(customer, invoice, T0 + timedelta(days=2))
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=T0 + timedelta(days=2))
    assert only_note(invoice).refund == refund


def test_a_credit_kept_on_the_account_after_a_plan_change_issues_a_credit_note(
    customer, catalog, add_card
):
    # policy.md change-upgrade-yearly-to-monthly-credit: the unused part of the year is worth
    # more than the new month: nothing is charged, the difference is credited.
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "year"), now=T0)
    first = Invoice.objects.get(user=customer)
    at = T0 + timedelta(days=180)
    target = price("premium", "month")
    quote = plan_change_quote_for(subscription=sub, target=target, now=at)
    assert quote.amount_due == 0
    assert quote.credit > 0
    token = quote_token(subscription=sub, target=target, quoted_at=at)
    plan_change(user=customer, subscription=sub, target=target, token=token, now=at)
    note = only_note(first)
    assert (note.total, note.reason, note.refunded_at) == (quote.credit, "credit", None)
    assert note.lines.get().description.startswith(f"Credit on invoice {first.number}")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers: nothing to race"
)
def test_twenty_concurrent_credit_notes_are_numbered_without_gaps(customer, catalog, add_card):
    invoice = subscribed(customer, add_card)
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
    customer, catalog, add_card, mailoutbox
):
    import facturx

    invoice = subscribed(customer, add_card)
    receipt = next(m for m in mailoutbox if "nous avons bien reçu votre paiement" in m.body)
    ((name, pdf, kind),) = receipt.attachments
    assert (name, kind) == (f"invoice-{invoice.number}.pdf", "application/pdf")
    assert f"La facture {invoice.number} est jointe à cet e-mail." in receipt.body
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert invoice.number.encode() in xml

    ask(customer, invoice, T0 + timedelta(days=2))
    note = only_note(invoice)
    refund_mail = mailoutbox[-1]
    ((name, pdf, kind),) = refund_mail.attachments
    assert name == f"credit-note-{note.number}.pdf"
    assert f"L’avoir {note.number} est joint à cet e-mail." in refund_mail.body
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml
    assert invoice.number.encode() in xml
