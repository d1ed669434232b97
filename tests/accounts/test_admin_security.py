"""Issue 13: the admin is reached through allauth's login, with its rate limits, and TOTP."""

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command

from tests.conftest import staff_login, staff_totp
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(db):
    from allauth.account.models import EmailAddress

    user = UserFactory(is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_the_admin_login_form_with_a_password_alone_does_not_sign_in(client, staff):
    response = client.post(
        "/en/admin/login/?next=/en/admin/", {"username": staff.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/en/auth/login/")
    assert "_auth_user_id" not in client.session
    assert client.get("/en/admin/").status_code == 302


def test_allauth_login_of_staff_with_totp_stops_at_the_second_factor(client, staff):
    staff_totp(staff)
    response = client.post("/en/auth/login/", {"login": staff.email, "password": PASSWORD})
    assert response["Location"] == "/en/auth/2fa/authenticate/"
    assert "_auth_user_id" not in client.session


def test_staff_login_attempts_are_blocked_after_five_failures(client, staff):
    blocked = "Too many failed login attempts"
    for _ in range(5):
        response = client.post("/en/auth/login/", {"login": staff.email, "password": "wrong"})
        assert blocked not in response.content.decode()
    # the sixth attempt is refused, even with the right password
    response = client.post("/en/auth/login/", {"login": staff.email, "password": PASSWORD})
    assert blocked in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_staff_without_totp_is_sent_to_set_it_up_before_any_admin_page(client, staff):
    client.force_login(staff)
    response = client.get("/en/admin/support/ticket/")
    assert response.status_code == 302
    assert response["Location"].startswith("/en/auth/2fa/totp/activate/")


def test_staff_with_totp_but_a_session_without_it_is_asked_for_a_code(client, staff):
    staff_totp(staff)
    client.force_login(staff)
    response = client.get("/fr/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/fr/auth/2fa/reauthenticate/")


def test_staff_signed_in_with_totp_reach_the_admin(client, staff):
    staff_login(client, staff)
    assert client.get("/en/admin/").status_code == 200


def test_customers_are_not_asked_for_totp(customer_client):
    assert customer_client.get("/en/account/").status_code in (200, 302)
    assert customer_client.get("/en/admin/")["Location"] == "/en/admin/login/?next=/en/admin/"
    assert customer_client.get("/en/admin/login/").status_code == 403


def test_demo_setup_gives_the_demo_staff_totp_and_recovery_codes(db, settings, capsys):
    settings.DEBUG = True
    call_command("demo_setup")
    out = capsys.readouterr().out
    from accounts.management.commands.demo_setup import DEMO_STAFF_EMAIL, DEMO_TOTP_SECRET

    types = set(
        Authenticator.objects.filter(user__email=DEMO_STAFF_EMAIL).values_list("type", flat=True)
    )
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    assert DEMO_TOTP_SECRET in out
    call_command("demo_setup")  # idempotent
    assert Authenticator.objects.filter(user__email=DEMO_STAFF_EMAIL).count() == 2
