"""Staff answer tickets in the admin: overdue first, replies e-mailed in the customer's language."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.models import AuditEvent
from support import services
from support.models import Message, Ticket, TicketStatus
from tests.conftest import staff_login, staff_reauthenticated
from tests.factories import UserFactory
from tests.support.conftest import ticket_open

CHANGELIST = "/en/admin/support/ticket/"


def hidden_inputs(html):
    """The change form's hidden fields (the inline's management form), as a browser sends them."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


@pytest.fixture
def tickets(customer):
    """Five tickets opened at different times; `now` is the real clock (the admin's)."""
    now = timezone.now()

    def opened(subject, hours_ago, *, status=None):
        ticket = ticket_open(customer, subject=subject, now=now - timedelta(hours=hours_ago))
        if status == "answered":
            at = now - timedelta(hours=hours_ago - 1)
            services.ticket_staff_reply(ticket=ticket, staff=customer, body="ok", now=at)
        elif status == "closed":
            services.ticket_close(ticket=ticket, user=customer, now=now)
        return ticket

    return {
        "fresh": opened("Fresh question", 1),  # due in 47 h
        "late": opened("Late question", 49),  # 1 h overdue
        "very_late": opened("Very late question", 60),  # 12 h overdue
        "answered": opened("Answered question", 100, status="answered"),
        "closed": opened("Closed question", 200, status="closed"),
        "recent": opened("Recent question", 0),  # due in 48 h
    }


def test_the_changelist_puts_overdue_tickets_first_then_by_due_date(admin_client, tickets):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    order = [t.subject for t in response.context["cl"].result_list]
    assert order[:4] == [
        "Very late question",
        "Late question",
        "Fresh question",
        "Recent question",
    ]
    assert set(order[4:]) == {"Answered question", "Closed question"}
    html = response.content.decode()
    assert html.count('class="ticket-overdue"') == 2
    assert html.index("Very late question") < html.index("Late question") < html.index("Fresh")


def test_a_customer_message_after_our_reply_is_overdue_again_only_when_late(
    admin_client, customer, tickets
):
    services.ticket_reply(
        ticket=tickets["answered"],
        user=customer,
        body="Still broken",
        now=timezone.now() - timedelta(hours=50),
    )
    response = admin_client.get(CHANGELIST + "?overdue=yes")
    subjects = {t.subject for t in response.context["cl"].result_list}
    assert subjects == {"Very late question", "Late question", "Answered question"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("overdue=yes", {"Very late question", "Late question"}),
        (
            "overdue=no",
            {"Fresh question", "Recent question", "Answered question", "Closed question"},
        ),
        ("status__exact=closed", {"Closed question"}),
        ("category__exact=technical&status__exact=answered", {"Answered question"}),
    ],
)
def test_the_changelist_filters(admin_client, tickets, query, expected):
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert {t.subject for t in response.context["cl"].result_list} == expected


def test_the_changelist_query_count_does_not_grow_with_tickets(
    admin_client, tickets, customer, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9) as few:
        admin_client.get(CHANGELIST)
    for n in range(10):
        ticket_open(customer, subject=f"More {n}", now=timezone.now())
    with django_assert_max_num_queries(len(few)):
        admin_client.get(CHANGELIST)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_staff_reply_is_saved_and_emailed_in_the_customers_language(
    admin_client, admin_user, customer, mailoutbox, language
):
    customer.language = language
    customer.save()
    ticket = ticket_open(customer, subject="Invoice address", now=timezone.now())
    mailoutbox.clear()  # the copy to the support address
    url = f"{CHANGELIST}{ticket.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "It shows nothing." in page
    data = {**hidden_inputs(page), "reply": "We have fixed your address.\nThank you."}
    data.pop("csrfmiddlewaretoken", None)

    response = admin_client.post(url, data)
    assert response.status_code == 302
    message = ticket.messages.get(is_staff=True)
    assert message.author == admin_user
    assert message.body == "We have fixed your address.\nThank you."
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ANSWERED
    assert ticket.first_staff_reply_at == ticket.last_staff_reply_at == message.created_at
    assert AuditEvent.objects.filter(user=customer, kind="ticket_answered", actor=admin_user)

    [mail] = mailoutbox
    assert mail.to == [customer.email]
    assert "We have fixed your address." in mail.body
    assert f"http://127.0.0.1:8000/{language}/account/support/{ticket.pk}/" in mail.body
    html = mail.alternatives[0][0]
    assert "We have fixed your address.<br>Thank you." in html
    if language == "en":
        assert mail.subject == f"Reply to your ticket #{ticket.pk}: Invoice address"
    else:  # needs var/i18n/support.json merged into locale/fr
        assert mail.subject == f"Réponse à votre ticket #{ticket.pk} : Invoice address"


def test_saving_without_a_reply_changes_nothing(admin_client, customer, mailoutbox):
    ticket = ticket_open(customer, now=timezone.now())
    url = f"{CHANGELIST}{ticket.pk}/change/"
    data = hidden_inputs(admin_client.get(url).content.decode())
    assert admin_client.post(url, data).status_code == 302
    assert Message.objects.filter(is_staff=True).count() == 0
    assert not mailoutbox


def test_staff_cannot_add_tickets_and_see_attachment_links(admin_client, customer):
    from tests.support.conftest import PDF, upload

    ticket = ticket_open(customer, now=timezone.now(), files=[upload("log.pdf", PDF)])
    html = admin_client.get(f"{CHANGELIST}{ticket.pk}/change/").content.decode()
    attachment = ticket.messages.get().attachments.get()
    assert f'href="/en/account/support/attachments/{attachment.pk}/"' in html
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_the_close_action_closes_through_the_service(admin_client, admin_user, customer):
    ticket = ticket_open(customer, now=timezone.now())
    admin_client.post(CHANGELIST, {"action": "close_tickets", "_selected_action": [ticket.pk]})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    assert AuditEvent.objects.filter(kind="ticket_closed", actor=admin_user).exists()


def deletion_ticket(customer):
    return services.ticket_create(
        user=customer,
        category="account_deletion",
        subject="Please delete my account",
        body="Thanks.",
        now=timezone.now(),
    )


def test_only_an_account_deletion_ticket_offers_to_delete_the_account(admin_client, customer):
    other = ticket_open(customer, now=timezone.now())
    ticket = deletion_ticket(customer)
    link = f"{CHANGELIST}{ticket.pk}/account-delete/"
    assert link in admin_client.get(f"{CHANGELIST}{ticket.pk}/change/").content.decode()
    assert (
        "account-delete" not in admin_client.get(f"{CHANGELIST}{other.pk}/change/").content.decode()
    )
    assert admin_client.get(f"{CHANGELIST}{other.pk}/account-delete/").status_code == 404

    page = admin_client.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"The customer {customer.email} asked in ticket #{ticket.pk}" in html
    assert "keeps their invoices for 10 years stripped of personal data" in html
    assert "Yes, delete the account" in html

    # Never a bulk action (issue 16): the changelist offers no deletion.
    assert "account_delete" not in admin_client.get(CHANGELIST).content.decode()
    assert Ticket.objects.filter(pk=ticket.pk).exists()  # nothing deleted without confirming


def test_staff_without_the_user_delete_permission_cannot_delete_accounts(client, customer):
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="support"))
    staff_login(client, staff)
    ticket = deletion_ticket(customer)
    assert client.get(f"{CHANGELIST}{ticket.pk}/change/").status_code == 200
    assert client.post(f"{CHANGELIST}{ticket.pk}/account-delete/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_confirming_deletes_the_customers_account_and_closes_the_ticket(
    admin_client, admin_user, customer, mailoutbox
):
    from accounts.models import User

    email = customer.email
    ticket = deletion_ticket(customer)
    stale = admin_client.post(f"{CHANGELIST}{ticket.pk}/account-delete/")
    assert "/reauthenticate/" in stale["Location"]  # a fresh sign-in first
    staff_reauthenticated(admin_client)
    response = admin_client.post(f"{CHANGELIST}{ticket.pk}/account-delete/", follow=True)
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert f"The account of {email} has been deleted." in response.content.decode()
    assert not User.objects.filter(email=email).exists()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    assert AuditEvent.objects.filter(kind="account_deleted", actor=admin_user).exists()

    again = admin_client.post(f"{CHANGELIST}{ticket.pk}/account-delete/", follow=True)
    assert "This account was already deleted." in again.content.decode()


def test_a_staff_account_is_not_deleted_from_a_ticket(admin_client):
    staff = UserFactory(is_staff=True)
    ticket = deletion_ticket(staff)
    staff_reauthenticated(admin_client)
    response = admin_client.post(f"{CHANGELIST}{ticket.pk}/account-delete/", follow=True)
    assert response.redirect_chain[-1][0] == f"{CHANGELIST}{ticket.pk}/change/"
    assert "Staff accounts are not deleted this way." in response.content.decode()
    staff.refresh_from_db()
    assert staff.is_active
