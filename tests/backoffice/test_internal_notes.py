"""Issue 16 §5: Support and Billing leave internal notes on a ticket or a customer. The
customer never sees them, and they go with the account (export and erasure)."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from support import services as support
from support.models import InternalNote
from tests.conftest import staff_login
from tests.factories import UserFactory
from tests.support.test_admin import hidden_inputs

NOTE = "Called him back: the card was blocked by his bank, retry on Monday."


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def ticket(customer):
    return support.ticket_create(
        user=customer, category="billing", subject="Card refused", body="Why?", now=timezone.now()
    )


def _note_form(page, body):
    data = hidden_inputs(page)
    data.pop("csrfmiddlewaretoken", None)
    assert 'name="internal_notes-TOTAL_FORMS"' in page
    data["internal_notes-0-body"] = body
    return data


@pytest.mark.parametrize("group", ["Support", "Billing"])
def test_an_agent_adds_a_note_on_a_ticket_and_the_customer_never_sees_it(
    group, staff_client, customer, ticket, mailoutbox, client
):
    agent = staff_client(group)
    url = f"/en/admin/support/ticket/{ticket.pk}/change/"
    page = agent.get(url).content.decode()
    assert "never shown to the customer" in page
    mailoutbox.clear()

    assert agent.post(url, _note_form(page, NOTE)).status_code == 302

    note = InternalNote.objects.get()
    assert (note.customer, note.ticket, note.author, note.body) == (
        customer,
        ticket,
        agent.member,
        NOTE,
    )
    assert not ticket.messages.filter(is_staff=True).exists()  # a note is not a reply
    assert mailoutbox == []  # nobody is told, least of all the customer
    again = agent.get(url).content.decode()
    assert NOTE in again
    assert agent.member.email in again  # who wrote it
    assert NOTE in agent.get(f"/en/admin/customers/{customer.pk}/").content.decode()

    client.logout()
    client.force_login(customer)
    mine = client.get(f"/en/account/support/{ticket.pk}/")
    assert mine.status_code == 200
    assert "Why?" in mine.content.decode()
    assert NOTE not in mine.content.decode()
    assert NOTE not in client.get("/en/account/support/").content.decode()


def test_saving_a_ticket_with_an_empty_note_saves_no_note(staff_client, ticket):
    agent = staff_client("Support")
    url = f"/en/admin/support/ticket/{ticket.pk}/change/"
    page = agent.get(url).content.decode()
    assert agent.post(url, _note_form(page, "")).status_code == 302
    assert not InternalNote.objects.exists()


def test_a_note_is_added_from_the_customer_file(staff_client, customer):
    agent = staff_client("Billing", language="fr")
    url = f"/fr/admin/customers/{customer.pk}/"
    page = agent.get(url).content.decode()
    assert "Ajouter une note interne" in page

    done = agent.post(f"{url}notes/", {"body": "  A promis de payer vendredi.  "}, follow=True)

    assert done.status_code == 200
    note = InternalNote.objects.get()
    assert (note.customer, note.ticket, note.author) == (customer, None, agent.member)
    assert note.body == "A promis de payer vendredi."
    html = done.content.decode()
    assert "A promis de payer vendredi." in html
    assert "Votre note est enregistrée." in html
    assert agent.post(f"{url}notes/", {"body": "   "}).status_code == 302
    assert InternalNote.objects.count() == 1
    assert agent.get(f"{url}notes/").status_code == 405


def test_staff_outside_the_groups_cannot_add_notes(client, customer):
    outsider = UserFactory(is_staff=True)
    outsider.user_permissions.add(*Permission.objects.filter(codename="view_user"))
    staff_login(client, outsider)
    page = client.get(f"/en/admin/customers/{customer.pk}/").content.decode()
    assert "Add an internal note" not in page
    url = f"/en/admin/customers/{customer.pk}/notes/"
    assert client.post(url, {"body": "x"}).status_code == 403
    assert not InternalNote.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_note_is_in_the_customers_export_and_erased_with_the_account(customer, ticket):
    from privacy import inventory
    from privacy import services as privacy

    staff = UserFactory(is_staff=True)
    support.internal_note_add(
        customer=customer, ticket=ticket, author=staff, body=NOTE, now=timezone.now()
    )
    tables = {t.model: t for t in inventory.export_tables()}
    assert [n.body for n in tables[InternalNote].rows(customer)] == [NOTE]

    privacy.account_delete(user=customer, actor=customer, now=timezone.now())

    assert NOTE not in [n.body for n in InternalNote.objects.all()]


def _profile_form(page, customer):
    """The profile change form as a browser posts it back, unchanged."""
    data = hidden_inputs(page)
    data.pop("csrfmiddlewaretoken", None)
    data.update(
        email=customer.email,
        name=customer.name,
        company=customer.company,
        country=customer.country,
        language=customer.language,
        time_zone=customer.time_zone,
        is_active="on",
        date_joined_0=data["initial-date_joined_0"],  # as shown, in the staff's time zone
        date_joined_1=data["initial-date_joined_1"],
    )
    return data


def test_the_customers_profile_shows_every_note_and_a_superuser_adds_one(
    admin_client, admin_user, staff_client, customer, ticket
):
    support.internal_note_add(
        customer=customer, ticket=ticket, author=admin_user, body=NOTE, now=timezone.now()
    )
    before = customer.date_joined.replace(microsecond=0)
    url = f"/en/admin/accounts/user/{customer.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert NOTE in page  # the ticket's note, on the customer's profile too

    form = _profile_form(page, customer)
    assert form["internal_notes-INITIAL_FORMS"] == "1"
    # The shown note cannot be rewritten; the blank form below it adds one.
    form["internal_notes-0-body"] = "Rewritten"
    form["internal_notes-1-body"] = "Prefers phone calls."

    response = admin_client.post(url, form)

    assert response.status_code == 302
    added = InternalNote.objects.get(ticket=None)
    assert (added.customer, added.author, added.body) == (
        customer,
        admin_user,
        "Prefers phone calls.",
    )
    assert InternalNote.objects.get(ticket=ticket).body == NOTE
    customer.refresh_from_db()
    assert customer.date_joined == before  # the rest of the profile is as it was
    # Support reads the profile (and its notes) without being able to change it.
    admin_client.logout()
    readonly = staff_client("Support").get(url).content.decode()
    assert "Prefers phone calls." in readonly
    assert 'name="internal_notes-0-body"' not in readonly
