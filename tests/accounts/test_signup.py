import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import User
from tests.accounts.test_profile import URL as PROFILE_URL
from tests.accounts.test_profile import VALID as PROFILE_VALID

PASSWORD = "a long and unusual passphrase 42"


def _signup(client, language="fr", email="new@example.com"):
    return client.post(
        f"/{language}/auth/signup/",
        {
            "name": "Camille Martin",
            "company": "Martin SARL",
            "country": "FR",
            "is_business": "on",
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


def _confirmation_link(message):
    return re.search(r"https?://[^\s]+/auth/confirm-email/[^\s]+/", message.body).group(0)


@pytest.mark.django_db
def test_signup_in_french_sends_a_french_verification_email_and_blocks_login_until_verified(client):
    response = _signup(client)

    assert response.status_code == 302
    assert response["Location"] == "/fr/auth/confirm-email/"
    user = User.objects.get(email="new@example.com")
    assert (user.name, user.company, user.language) == ("Camille Martin", "Martin SARL", "fr")
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert "Confirmez votre adresse e-mail" in mail.outbox[0].subject
    # From the vendor, greeting in its name (not the server's address).
    assert mail.outbox[0].from_email.startswith("e-confiance SAS <")
    assert mail.outbox[0].body.splitlines()[0] == "Bonjour Camille,"
    assert "L’équipe e-confiance SAS" in mail.outbox[0].body
    assert " sur ." not in mail.outbox[0].body  # the site's address is named
    # Mandatory verification: the customer area stays closed.
    assert client.get("/fr/account/").status_code == 302


@pytest.mark.django_db
def test_following_the_verification_link_verifies_and_logs_in(client):
    _signup(client, language="en")
    link = _confirmation_link(mail.outbox[0])
    path = link.split("://", 1)[1].split("/", 1)[1]

    page = client.get("/" + path)
    assert page.status_code == 200
    response = client.post("/" + path)

    assert EmailAddress.objects.get(email="new@example.com").verified
    assert response.status_code == 302
    home = client.get(response["Location"], follow=True)
    assert "Hello Camille" in home.content.decode()


@pytest.mark.django_db
def test_signup_with_a_taken_email_creates_nothing_and_warns_the_owner(client, customer):
    # allauth prevents account enumeration: the page looks the same, the owner gets an e-mail.
    response = _signup(client, language="en", email=customer.email)

    assert response["Location"] == "/en/auth/confirm-email/"
    assert User.objects.filter(email=customer.email).count() == 1
    assert mail.outbox[0].to == [customer.email]
    assert mail.outbox[0].subject == "You already have an account"


@pytest.mark.django_db
def test_login_with_email_and_password(client, customer):
    response = client.post(
        "/en/auth/login/",
        {"login": customer.email, "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert client.get("/en/account/").status_code == 200


@pytest.mark.django_db
def test_login_lands_in_the_customers_own_language(client, customer):
    customer.language = "en"
    customer.save()
    response = client.post(
        "/fr/auth/login/",
        {"login": customer.email, "password": "correct horse battery staple"},
    )
    assert response["Location"] == "/en/account/"


@pytest.mark.django_db
def test_wrong_password_says_so_and_repeated_failures_are_rate_limited(client, customer):
    response = client.post("/en/auth/login/", {"login": customer.email, "password": "nope"})
    assert "The e-mail address and/or password you specified are not correct." in (
        response.content.decode()
    )
    for _ in range(10):
        response = client.post("/en/auth/login/", {"login": customer.email, "password": "nope"})
    assert "Too many failed login attempts" in response.content.decode()


@pytest.mark.django_db
def test_password_reset_sends_an_email_in_the_customers_language(client, customer):
    customer.language = "en"
    customer.save()
    client.post("/fr/auth/password/reset/", {"email": customer.email})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Choose a new password"


@pytest.mark.django_db
def test_turning_on_totp_asks_for_the_password_again_then_shows_the_authenticator_setup(
    customer_client, customer
):
    response = customer_client.get("/en/auth/2fa/totp/activate/")
    assert response.status_code == 302
    assert response["Location"].startswith("/en/auth/reauthenticate/")

    wrong = customer_client.post(response["Location"], {"password": "not it"})
    assert "Incorrect password." in wrong.content.decode()

    confirmed = customer_client.post(
        response["Location"], {"password": "correct horse battery staple"}, follow=True
    )
    assert confirmed.request["PATH_INFO"] == "/en/auth/2fa/totp/activate/"
    assert "Authenticator" in confirmed.content.decode()


NOT_ONE_LINE = [
    ("name", "Camille\r\nBcc: victim@example.com"),
    ("name", "Camille\x1b[31mMartin"),
    ("name", "Camille\u2028Martin"),
    ("name", "Camille \u202eMartin"),
    ("company", "Martin\nSARL"),
    ("company", "Martin\tSARL"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), NOT_ONE_LINE)
def test_signup_refuses_the_names_the_profile_refuses(client, field, value):
    """Issue 13: sign-up took names with CR/LF/ESC that the profile refused. One validator
    now serves both (accounts.validators.single_line)."""
    data = {
        "name": "Camille Martin",
        "company": "Martin SARL",
        "email": "new@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        field: value,
    }
    response = client.post("/en/auth/signup/", data)

    assert response.status_code == 200
    assert (
        "Enter a single line of text, without line breaks or control characters."
        in response.content.decode()
    )
    assert not User.objects.exists()
    assert not mail.outbox


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), NOT_ONE_LINE)
def test_the_profile_refuses_the_same_names(customer_client, customer, field, value):
    response = customer_client.post(PROFILE_URL, {**PROFILE_VALID, field: value})

    assert response.status_code == 400
    assert (
        "Enter a single line of text, without line breaks or control characters."
        in response.content.decode()
    )
    customer.refresh_from_db()
    assert getattr(customer, field) != value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "Confirm that <strong>new@example.com</strong> is your e-mail address"),
        ("fr", "Confirmez que <strong>new@example.com</strong> est bien votre adresse e-mail"),
    ],
)
def test_the_confirmation_page_names_the_address_once_as_the_customers_own(client, language, says):
    # Issue 17: "Merci de confirmer que X est l'adresse e-mail de X".
    _signup(client, language=language)
    path = _confirmation_link(mail.outbox[0]).split("://", 1)[1].split("/", 1)[1]
    html = client.get("/" + path).content.decode()
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert says in main
    assert main.count("new@example.com") == 1
    assert "'" not in re.sub(r"<[^>]*>", "", main)  # typographic apostrophes only
