"""Who is told of what, by e-mail (HTML and text, in the recipient's language): staff of new
change requests, refund reviews and tickets, and of reviews near their target; customers of
a ticket opened, a ticket answered and a first payment declined."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from subscriptions.models import Invoice, InvoiceStatus
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import change_request_create, review_reminders_send
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.refunds import refund_request_create
from support import services as support
from tests.backoffice.conftest import price

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def html_of(message):
    (html, kind), *_ = message.alternatives
    assert kind == "text/html"
    return html


def test_billing_staff_are_told_of_a_new_change_request_each_in_their_language(
    staff, customer, subscribed, mailoutbox
):
    french = staff("Billing", language="fr")
    english = staff("Billing", language="en")
    staff("Support")  # not a decider: not told
    sub = subscribed(customer, "standard", "year", at=T0)
    mailoutbox.clear()
    with time_machine.travel(T0, tick=False):
        change = change_request_create(
            user=customer,
            subscription=sub,
            target=price("premium", "year"),
            reason="SMS",
            message="",
        )
    staff_mails = {m.to[0]: m for m in mailoutbox if m.to[0] != customer.email}
    assert set(staff_mails) == {french.email, english.email}
    fr = staff_mails[french.email]
    assert fr.subject == f"Nouvelle demande de changement de contrat : {sub.reference} vers Premium"
    assert "Décision attendue avant le" in fr.body
    assert f"/fr/admin/subscriptions/contractchangerequest/{change.pk}/change/" in html_of(fr)
    en = staff_mails[english.email]
    assert en.subject == f"New contract change request: {sub.reference} to Premium"
    # 5 business days after Monday 2 March: the end of Monday 9, Paris time (UTC+1).
    assert "Decision due by Mar 10, 2026, 12:00:00\u202fAM (5 business days)." in en.body


def test_a_configured_address_gets_the_refund_review_instead_of_the_group(
    settings, staff, customer, subscribed, mailoutbox
):
    settings.STAFF_NOTIFY_EMAIL = "billing-team@example.com"
    staff("Billing")
    subscribed(customer, "pro", "month", at=T0 - timedelta(days=20))
    invoice = Invoice.objects.get()
    mailoutbox.clear()
    refund = refund_request_create(
        user=customer, invoice=invoice, reason="service_problem", details="Down", now=T0
    )
    staff_mails = [m for m in mailoutbox if m.to == ["billing-team@example.com"]]
    assert len(staff_mails) == 1
    assert staff_mails[0].subject == f"Remboursement à examiner : facture {invoice.number}"
    assert f"/admin/subscriptions/refundrequest/{refund.pk}/change/" in html_of(staff_mails[0])
    assert len(mailoutbox) == 2  # and the customer's acknowledgement


def test_a_review_near_its_target_is_brought_to_staff_once(staff, customer, subscribed, mailoutbox):
    member = staff("Billing", language="en")
    subscribed(customer, "pro", "month", at=T0 - timedelta(days=20))
    refund = refund_request_create(
        user=customer,
        invoice=Invoice.objects.get(),
        reason="service_problem",
        details="Down",
        now=T0,
    )
    mailoutbox.clear()
    assert review_reminders_send(now=T0 + timedelta(days=1)) == 0  # a week left
    near = refund.due_by - timedelta(hours=20)
    assert review_reminders_send(now=near) == 1
    assert review_reminders_send(now=near + timedelta(hours=1)) == 0  # told once
    (mail,) = mailoutbox
    assert mail.to == [member.email]
    assert mail.subject == f"Decision due soon: refund of invoice {refund.invoice.number}"
    assert html_of(mail)


def test_a_customer_is_told_their_ticket_arrived_with_its_reply_target(customer, mailoutbox):
    ticket = support.ticket_create(
        user=customer, category="technical", subject="Widget", body="Down", now=timezone.now()
    )
    mine = [m for m in mailoutbox if m.to == [customer.email]]
    assert len(mine) == 1
    assert mine[0].subject == f"Nous avons bien reçu votre demande {ticket.reference}"
    assert "Nous vous répondons sous 48 heures" in mine[0].body
    assert "/fr/account/support/" in html_of(mine[0])
    staff_copy = [m for m in mailoutbox if m.to != [customer.email]]
    assert staff_copy
    assert html_of(staff_copy[0])


def test_a_first_payment_declined_at_charge_is_emailed_with_the_link_to_pay(
    customer, add_card, catalog, mailoutbox
):
    add_card(customer, "pm_card_chargeCustomerFail")
    mailoutbox.clear()
    with pytest.raises(SubscriptionError):
        subscribe(user=customer, price=price("pro", "month"), now=timezone.now())
    invoice = Invoice.objects.get(user=customer)
    assert invoice.status == InvoiceStatus.OPEN
    (mail,) = [m for m in mailoutbox if m.to == [customer.email]]
    assert mail.subject == f"Votre premier paiement a été refusé : facture {invoice.number}"
    assert f"/fr/account/invoices/{invoice.number}/pay/" in mail.body
    assert f"/fr/account/invoices/{invoice.number}/pay/" in html_of(mail)
