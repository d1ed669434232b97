"""Support tickets as a customer sees them (001): any time, reply target 48 h, 24 h on Premium."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from subscriptions.models import AuditEvent, Subscription
from support import services
from support.models import Attachment, Message, Ticket, TicketStatus
from tests.support.conftest import PDF, ticket_open, upload

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def live_subscription(user, plan, status="active"):
    return Subscription.objects.create(user=user, plan=plan, status=status, currency="EUR")


@pytest.mark.parametrize(
    ("plan_code", "hours"),
    [(None, 48), ("starter", 48), ("pro", 48), ("premium", 24)],
)
def test_the_reply_target_comes_from_the_customers_plan(customer, catalog, plan_code, hours):
    if plan_code:
        live_subscription(customer, catalog[plan_code])
    ticket = ticket_open(customer, now=NOW)
    assert ticket.reply_due_at == NOW + timedelta(hours=hours)
    assert ticket.status == TicketStatus.OPEN
    assert ticket.last_customer_message_at == NOW


def test_an_ended_premium_subscription_still_sets_the_target_when_there_is_no_live_one(
    customer, catalog
):
    live_subscription(customer, catalog["premium"], status="canceled")
    assert ticket_open(customer, now=NOW).reply_due_at == NOW + timedelta(hours=24)


def test_the_new_ticket_page_offers_the_four_categories(customer_client):
    html = customer_client.get("/en/account/support/new/").content.decode()
    for label in ("Billing", "Technical problem", "Feature request", "Account deletion"):
        assert label in html
    assert 'enctype="multipart/form-data"' in html


def test_the_new_ticket_page_can_preselect_account_deletion(customer_client):
    html = customer_client.get("/en/account/support/new/?category=account_deletion").content
    assert b'value="account_deletion" selected' in html


@pytest.mark.django_db(transaction=True)
def test_opening_a_ticket_saves_the_thread_and_tells_the_support_address(
    customer_client, customer, catalog, mailoutbox
):
    live_subscription(customer, catalog["premium"])
    response = customer_client.post(
        "/en/account/support/new/",
        {
            "category": "feature_request",
            "subject": "Export to my calendar",
            "body": "Could reviews be exported\nto my calendar?",
            "attachments": [upload("idea.pdf", PDF)],
        },
    )
    ticket = Ticket.objects.get(user=customer)
    assert response.status_code == 302
    assert response["Location"] == f"/en/account/support/{ticket.pk}/"
    assert ticket.category == "feature_request"
    message = ticket.messages.get()
    assert (message.author, message.is_staff) == (customer, False)
    assert message.attachments.get().filename == "idea.pdf"
    assert AuditEvent.objects.filter(user=customer, kind="ticket_opened").exists()

    acknowledgement, mail = sorted(mailoutbox, key=lambda m: m.to != [customer.email])
    assert acknowledgement.to == [customer.email]  # with its reply target (issue 16)
    assert mail.to == [settings.SUPPORT_EMAIL]
    assert ticket.reference in mail.subject
    assert "Export to my calendar" in mail.subject
    assert "Could reviews be exported" in mail.body
    assert customer.email in mail.body
    assert f"/admin/support/ticket/{ticket.pk}/change/" in mail.body


def test_the_support_address_gets_each_customer_message_once(customer, mailoutbox):
    ticket = ticket_open(customer, now=NOW)
    message = ticket.messages.get()
    assert services.support_notify(message_id=message.pk, now=NOW) is True
    assert services.support_notify(message_id=message.pk, now=NOW) is False
    assert len(mailoutbox) == 1


def test_the_list_shows_status_and_reply_time_in_the_customers_language_and_zone(
    customer_client, customer, catalog
):
    customer.time_zone = "America/New_York"
    customer.save()
    live_subscription(customer, catalog["premium"])
    ticket_open(customer, now=NOW, subject="Widget colours")  # due 11 March 12:00 UTC

    english = customer_client.get("/en/account/support/").content.decode()
    assert "Widget colours" in english
    assert "reply expected by March 11, 2026 at 8:00" in english  # EDT, UTC-4
    assert "within 24 hours" in english
    french = customer_client.get("/fr/account/support/").content.decode()
    assert "11 mars 2026" in french
    assert "08:00" in french


def test_the_detail_page_shows_the_thread_with_attachments(customer_client, customer):
    ticket = ticket_open(customer, now=NOW, files=[upload("invoice.pdf", PDF)])
    services.ticket_staff_reply(
        ticket=ticket, staff=customer, body="Here is <b>the</b> answer.", now=NOW
    )
    html = customer_client.get(f"/en/account/support/{ticket.pk}/").content.decode()
    attachment = Attachment.objects.get()
    assert "It shows nothing." in html
    assert "Here is &lt;b&gt;the&lt;/b&gt; answer." in html
    assert "Support team" in html
    assert f'href="/en/account/support/attachments/{attachment.pk}/"' in html
    assert "invoice.pdf" in html
    assert "Close this ticket" in html


def test_a_reply_is_added_to_the_thread(customer_client, customer):
    ticket = ticket_open(customer, now=NOW)
    response = customer_client.post(
        f"/en/account/support/{ticket.pk}/", {"body": "Any news?"}, follow=True
    )
    assert response.status_code == 200
    assert "Your message has been sent." in response.content.decode()
    assert list(ticket.messages.values_list("body", flat=True)) == [
        "It shows nothing.",
        "Any news?",
    ]
    ticket.refresh_from_db()
    # Still waiting for our first reply: the target does not move.
    assert ticket.reply_due_at == NOW + timedelta(hours=48)


def test_closing_then_replying_reopens_the_ticket_with_a_new_target(customer_client, customer):
    ticket = ticket_open(customer, now=NOW)
    response = customer_client.post(f"/en/account/support/{ticket.pk}/close/")
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.closed_at is not None

    customer_client.post(f"/en/account/support/{ticket.pk}/", {"body": "It is back."})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.closed_at is None
    assert ticket.reply_due_at > timezone.now() + timedelta(hours=47)
    kinds = set(AuditEvent.objects.filter(user=customer).values_list("kind", flat=True))
    assert {"ticket_opened", "ticket_closed", "ticket_reopened", "ticket_message"} <= kinds


def test_a_reply_after_our_answer_waits_for_us_again(customer, other_customer):
    ticket = ticket_open(customer, now=NOW)
    services.ticket_staff_reply(ticket=ticket, staff=other_customer, body="Done.", now=NOW)
    assert ticket.status == TicketStatus.ANSWERED
    later = NOW + timedelta(days=3)
    services.ticket_reply(ticket=ticket, user=customer, body="Not quite.", now=later)
    assert ticket.status == TicketStatus.OPEN
    assert ticket.reply_due_at == later + timedelta(hours=48)
    assert ticket.first_staff_reply_at == NOW


def test_another_customers_ticket_and_attachment_are_not_found(client, customer, other_customer):
    ticket = ticket_open(customer, now=NOW, files=[upload("mine.pdf", PDF)])
    attachment = Attachment.objects.get()
    client.force_login(other_customer)
    assert client.get(f"/en/account/support/{ticket.pk}/").status_code == 404
    assert client.post(f"/en/account/support/{ticket.pk}/", {"body": "hi"}).status_code == 404
    assert client.post(f"/en/account/support/{ticket.pk}/close/").status_code == 404
    assert client.get(f"/en/account/support/attachments/{attachment.pk}/").status_code == 404
    assert "My widget is broken" not in client.get("/en/account/support/").content.decode()
    assert Message.objects.count() == 1
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_a_visitor_is_sent_to_sign_in(client, customer):
    ticket = ticket_open(customer, now=NOW)
    for url in (
        "/en/account/support/",
        "/en/account/support/new/",
        f"/en/account/support/{ticket.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/auth/login/" in response["Location"]


def test_missing_fields_are_shown_on_the_page_and_nothing_is_saved(customer_client):
    response = customer_client.post(
        "/en/account/support/new/", {"category": "billing", "subject": "", "body": ""}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Your message was not sent" in html
    assert "This field is required." in html
    assert not Ticket.objects.exists()


def test_an_empty_reply_is_refused_with_a_400(customer_client, customer):
    ticket = ticket_open(customer, now=NOW)
    response = customer_client.post(f"/en/account/support/{ticket.pk}/", {"body": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert ticket.messages.count() == 1


@pytest.mark.parametrize("tickets", [1, 12])
def test_the_list_query_count_does_not_grow_with_tickets(
    customer_client, customer, tickets, django_assert_max_num_queries, settings
):
    for n in range(tickets):
        ticket_open(customer, now=NOW + timedelta(minutes=n), subject=f"Question {n}")
    # session, user, subscription (live, else latest), count, one page of tickets
    with django_assert_max_num_queries(6):
        response = customer_client.get("/en/account/support/")
    assert response.content.decode().count('<tr id="ticket-') == min(tickets, settings.PAGE_SIZE)


@pytest.mark.parametrize("replies", [0, 10])
def test_the_detail_query_count_does_not_grow_with_messages(
    customer_client, customer, replies, django_assert_max_num_queries
):
    ticket = ticket_open(customer, now=NOW, files=[upload("a.pdf", PDF)])
    for n in range(replies):
        services.ticket_reply(
            ticket=ticket,
            user=customer,
            body=f"Reply {n}",
            files=[],
            now=NOW + timedelta(minutes=n),
        )
        Attachment.objects.create(
            message=ticket.messages.last(), filename="b.txt", size=1, content_type="text/plain"
        )
    with django_assert_max_num_queries(5):  # session, user, ticket, messages, attachments
        response = customer_client.get(f"/en/account/support/{ticket.pk}/")
    assert response.content.decode().count('<article class="card message-') == replies + 1
