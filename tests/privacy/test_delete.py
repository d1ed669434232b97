"""001: deleting the account needs the password again, ends subscriptions at once, deletes
the Stripe customer and personal data, and keeps invoices stripped of personal data."""

import json
import os
from datetime import timedelta

import pytest
import stripe
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone, translation
from djstripe.models import WebhookEventTrigger

from accounts.models import User
from privacy import services
from privacy.models import DataExport
from subscriptions import invoices as invoice_documents
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    AuditEvent,
    BillingAccount,
    Invoice,
    Price,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.checkout import subscribe
from tests.factories import UserFactory
from tests.privacy.conftest import PASSWORD, PERSONAL, reauthenticate

pytestmark = pytest.mark.django_db(transaction=True)

DELETE_PAGE = "/en/account/data/delete/"


@pytest.fixture
def subscribed(person, catalog, add_card):
    """A paying customer two days into a monthly plan: the guarantee refunds it all."""
    add_card(person)
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
    subscribe(user=person, price=price, now=timezone.now() - timedelta(days=2))
    return person


def _personal_values_everywhere(values):
    """Every text value of every row of every concrete model, where one of `values` is."""
    found = []
    lowered = [v.lower() for v in values]
    for model in apps.get_models():
        fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*[f.attname for f in fields]):
            for field, value in zip(fields, row, strict=True):
                if value is None:
                    continue
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                found.extend(
                    (model._meta.label, field.name, v)
                    for v, low in zip(values, lowered, strict=True)
                    if low in text.lower()
                )
    return found


def test_the_page_explains_what_happens_and_offers_the_export_first(subscribed, client):
    client.force_login(subscribed)

    response = client.get(DELETE_PAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Deleting your account is final" in html
    assert "subscription (contract C-" in html
    assert "ends now" in html
    assert "We refund €49.00 to your card" in html  # the guarantee: 49 €, VAT not refunded
    assert "Your invoices are kept for 10 years" in html
    assert 'href="/en/account/data/">Export my data</a>' in html
    assert "we will ask for your password again" in html


def test_without_a_recent_password_the_request_goes_to_reauthentication(person_client, person):
    response = person_client.post(DELETE_PAGE, {"confirm": "yes"})

    assert response.status_code == 302
    assert response["Location"].startswith("/en/auth/reauthenticate/")
    person.refresh_from_db()
    assert person.email == PERSONAL["email"]
    assert person.is_active


def test_the_password_then_resumes_the_deletion(person_client, person, mailoutbox):
    response = person_client.post(DELETE_PAGE, {"confirm": "yes"})
    resumed = person_client.post(response["Location"], {"password": PASSWORD})

    assert resumed.status_code == 302
    assert resumed["Location"] == "/en/account/data/deleted/"
    person.refresh_from_db()
    assert person.email == f"deleted-{person.pk}@invalid.example"


def test_without_the_confirmation_box_nothing_is_deleted(person_client, person):
    reauthenticate(person_client)

    response = person_client.post(DELETE_PAGE, {})

    assert response.status_code == 400
    assert "Please tick the box" in response.content.decode()
    person.refresh_from_db()
    assert person.is_active


def test_deletion_erases_every_personal_value_keeps_invoices_and_deletes_the_stripe_customer(
    subscribed, client, mailoutbox, support_ticket, stripe_server
):
    person = subscribed
    staff = UserFactory(is_staff=True)
    billing = BillingAccount.objects.get(user=person)
    customer_id = billing.stripe_customer_id
    assert customer_id
    assert billing.card_last4 == "4242"
    invoices = list(Invoice.objects.filter(user=person).values_list("number", "total", "tax"))
    assert invoices
    # Personal data in every kind of place: tickets, files, exports, the admin log, the
    # audit trail, dj-stripe's stored webhooks, a second device's session, an authenticator.
    ticket = support_ticket(
        person,
        body=f"Bonjour, je suis {PERSONAL['name']}, {PERSONAL['address_line1']}, "
        f"{PERSONAL['postal_code']} {PERSONAL['city']}. Écrivez-moi à {PERSONAL['email']}.",
        filename="passeport-quillard.pdf",
    )
    services.export_request(user=person, now=timezone.now())
    export_file = DataExport.objects.get(user=person).file.path
    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(person.pk),
        object_repr=person.email,
        action_flag=CHANGE,
        change_message=f"Adresse changée pour {PERSONAL['address_line1']}",
    )
    AuditEvent.objects.create(
        user=person, kind="email_changed", data={"old_email": "old-zephyrine@example.org"}
    )
    WebhookEventTrigger.objects.create(
        remote_ip="127.0.0.1",
        headers={},
        body=json.dumps(
            {"customer": customer_id, "email": PERSONAL["email"], "name": PERSONAL["name"]}
        ),
        valid=True,
    )
    Authenticator.objects.create(user=person, type="totp", data={"secret": "JBSWY3DPEHPK3PXP"})
    other_device = client.__class__()
    other_device.force_login(person)
    client.force_login(person)
    reauthenticate(client)
    mailoutbox.clear()
    values = [*PERSONAL.values(), "old-zephyrine@example.org", "passeport-quillard.pdf"]
    before = {(label, field) for label, field, _ in _personal_values_everywhere(values)}
    assert {
        ("accounts.User", "email"),
        ("accounts.User", "address_line1"),
        ("subscriptions.Invoice", "buyer"),
        ("admin.LogEntry", "object_repr"),
        ("djstripe.WebhookEventTrigger", "body"),
        ("subscriptions.AuditEvent", "data"),
    } <= before

    response = client.post(DELETE_PAGE, {"confirm": "yes"})

    assert response.status_code == 302
    assert response["Location"] == "/en/account/data/deleted/"

    # The account stays as an empty shell that nobody can sign in to.
    person.refresh_from_db()
    assert person.email == f"deleted-{person.pk}@invalid.example"
    assert (person.name, person.company) == ("", "")
    assert not person.has_usable_password()
    assert not person.is_active
    assert not EmailAddress.objects.filter(user=person).exists()
    assert not Authenticator.objects.filter(user=person).exists()
    assert not Session.objects.filter(
        session_key__in=[client.session.session_key, other_device.session.session_key]
    ).exists()

    # Logged out: the account pages now ask to sign in; the goodbye page is public.
    assert client.get("/en/account/").status_code == 302
    goodbye = client.get("/en/account/data/deleted/")
    assert goodbye.status_code == 200
    assert "Your account has been deleted" in goodbye.content.decode()

    # Subscriptions ended at once; the guarantee refund was issued.
    assert (
        not Subscription.objects.filter(user=person)
        .exclude(status=SubscriptionStatus.CANCELED)
        .exists()
    )

    # Invoices stay with their numbers and amounts, without the buyer.
    kept = Invoice.objects.filter(user=person)
    assert list(kept.values_list("number", "total", "tax")) == invoices
    pseudonym = {"deleted": True, "pseudonym": f"C-{person.pk:06d}", "country": "FR"}
    assert all(invoice.buyer == pseudonym for invoice in kept)
    assert all(invoice.seller["name"] for invoice in kept)
    # The kept invoice names the buyer by the pseudonym only, in the reader's language.
    with translation.override("fr"):
        document = render_to_string(
            invoice_documents.DOCUMENT_TEMPLATE, invoice_documents.invoice_context(kept[0])
        )
    assert f"Client supprimé C-{person.pk:06d}" in document
    assert PERSONAL["name"] not in document
    assert PERSONAL["city"] not in document
    assert kept[0].number in document

    # The card and Stripe ids are gone here, and the customer is gone at Stripe.
    billing.refresh_from_db()
    assert (billing.stripe_customer_id, billing.payment_method_id, billing.card_last4) == (
        "",
        "",
        "",
    )
    try:
        deleted = getattr(stripe.Customer.retrieve(customer_id), "deleted", False)
    except stripe.InvalidRequestError:  # "No such customer"
        deleted = True
    assert deleted is True

    # Support messages, attachments and exports are deleted with their files.
    if ticket is not None:
        assert ticket.messages.get().body == ""
        assert not apps.get_model("support", "Attachment").objects.exists()
    assert not DataExport.objects.filter(user=person).exists()
    assert not os.path.exists(export_file)

    # Not one personal value left, in any table.
    assert _personal_values_everywhere(values) == []
    # The audit trail keeps what happened and when, and who did it.
    event = AuditEvent.objects.get(user=person, kind="account_deleted")
    assert event.actor == person
    assert AuditEvent.objects.filter(user=person, kind="email_changed").exists()


def test_the_confirmation_goes_to_the_old_address_in_the_customers_language(
    person, client, mailoutbox
):
    assert person.language == "fr"
    client.force_login(person)
    reauthenticate(client)

    client.post(DELETE_PAGE, {"confirm": "yes"})  # an English page: the e-mail is French

    [message] = mailoutbox
    assert message.to == [PERSONAL["email"]]
    with translation.override("fr"):
        assert message.subject == translation.gettext("Your account has been deleted")
    assert message.body.startswith("Bonjour Zéphyrine,")
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août")
    months += ("septembre", "octobre", "novembre", "décembre")
    assert any(month in message.body for month in months)
    html = message.alternatives[0][0]
    assert 'lang="fr"' in html


def test_a_stripe_failure_does_not_block_the_deletion_and_is_retried(
    person, add_card, monkeypatch, mailoutbox, caplog
):
    add_card(person)
    customer_id = BillingAccount.objects.get(user=person).stripe_customer_id
    calls = []

    def unavailable(cid):
        calls.append(cid)
        raise gateway.GatewayError("unavailable")

    monkeypatch.setattr(gateway, "customer_delete", unavailable)

    assert services.account_delete(user=person, actor=person, now=timezone.now())

    person.refresh_from_db()
    assert not person.is_active
    # Once in the deletion, then by the task (eager here: once, without waiting to retry).
    assert calls == [customer_id, customer_id]
    assert "still there" in caplog.text
    event = AuditEvent.objects.get(user=person, kind="account_deleted")
    assert event.data["stripe_customer_deleted"] is False


def test_deleting_twice_does_nothing_more(person, mailoutbox):
    assert services.account_delete(user=person, actor=person, now=timezone.now())
    person.refresh_from_db()
    assert not services.account_delete(user=person, actor=person, now=timezone.now())
    assert len(mailoutbox) == 1
    assert AuditEvent.objects.filter(user=person, kind="account_deleted").count() == 1


def test_staff_accounts_are_not_deleted_this_way(db):
    staff = UserFactory(is_staff=True)
    with pytest.raises(services.PrivacyError):
        services.account_delete(user=staff, actor=staff, now=timezone.now())


def test_another_customer_is_left_alone(person, mailoutbox):
    # Same company, an e-mail address that contains the deleted one: not theirs to erase.
    other = UserFactory(email=f"x.{PERSONAL['email']}", company=PERSONAL["company"])
    AuditEvent.objects.create(user=other, kind="note", data={"company": PERSONAL["company"]})

    services.account_delete(user=person, actor=person, now=timezone.now())

    other.refresh_from_db()
    assert (other.email, other.company) == (f"x.{PERSONAL['email']}", PERSONAL["company"])
    assert AuditEvent.objects.get(user=other).data == {"company": PERSONAL["company"]}


def test_the_goodbye_page_is_public(client):
    response = client.get("/fr/account/data/deleted/")
    assert response.status_code == 200
