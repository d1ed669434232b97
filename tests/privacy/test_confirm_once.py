"""Issue 13: `confirm=no&confirm=yes` deleted an account (Django's QueryDict.get reads the
last value). A confirmation sent twice is now refused and nothing is deleted."""

from urllib.parse import urlencode

import pytest

from tests.conftest import staff_login, staff_reauthenticated
from tests.factories import UserFactory
from tests.privacy.conftest import reauthenticate

pytestmark = pytest.mark.django_db(transaction=True)

DELETE_PAGE = "/en/account/data/delete/"
FORM = "application/x-www-form-urlencoded"


def test_confirm_no_then_yes_does_not_delete_the_account(person_client, person, mailoutbox):
    reauthenticate(person_client)

    response = person_client.post(
        DELETE_PAGE, urlencode([("confirm", "no"), ("confirm", "yes")]), content_type=FORM
    )

    assert response.status_code == 400
    assert "This form was sent with a field twice, so nothing was done." in (
        response.content.decode()
    )
    person.refresh_from_db()
    assert person.is_active
    assert not mailoutbox


def test_confirm_yes_twice_is_refused_too_and_a_single_yes_deletes(person_client, person):
    reauthenticate(person_client)

    twice = person_client.post(
        DELETE_PAGE, urlencode([("confirm", "yes"), ("confirm", "yes")]), content_type=FORM
    )
    assert twice.status_code == 400
    person.refresh_from_db()
    assert person.is_active

    once = person_client.post(DELETE_PAGE, {"confirm": "yes"})
    assert once["Location"] == "/en/account/data/deleted/"
    person.refresh_from_db()
    assert not person.is_active


def test_the_admin_deletion_needs_a_single_confirmation_too(person, client):
    staff_login(client, UserFactory(is_staff=True, is_superuser=True))
    staff_reauthenticated(client)
    url = f"/en/admin/accounts/user/{person.pk}/account-delete/"

    response = client.post(
        url, urlencode([("confirmed", "no"), ("confirmed", "yes")]), content_type=FORM
    )

    assert response.status_code == 200
    assert 'name="confirmed" value="yes"' in response.content.decode()  # asked again
    person.refresh_from_db()
    assert person.is_active
    client.post(url, {"confirmed": "yes"})
    person.refresh_from_db()
    assert not person.is_active
