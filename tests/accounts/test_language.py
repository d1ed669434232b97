import pytest

from accounts.models import User


def test_french_is_the_default_language(client, db):
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/fr/"
    assert '<html lang="fr">' in response.content.decode()


@pytest.mark.django_db
def test_switching_language_keeps_the_current_page_for_a_visitor(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/fr/?currency=GBP"})
    assert response.status_code == 302
    assert response["Location"] == "/en/?currency=GBP"
    page = client.get(response["Location"])
    assert "Plans and pricing" in page.content.decode()


@pytest.mark.django_db
def test_switching_language_is_remembered_on_the_profile(customer_client, customer):
    response = customer_client.post("/i18n/setlang/", {"language": "en", "next": "/fr/account/"})
    assert response["Location"] == "/en/account/"
    customer.refresh_from_db()
    assert customer.language == "en"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("browser", "language", "page", "expected"),
    [
        ("en", "en", "/fr/account/invoices/", "/en/account/invoices/"),
        ("fr", "fr", "/en/account/subscription/", "/fr/account/subscription/"),
        ("en-GB,en;q=0.9", "en", "/fr/?currency=GBP", "/en/?currency=GBP"),
    ],
)
def test_the_switcher_moves_to_the_same_page_whatever_the_browser_says(
    customer_client, customer, browser, language, page, expected
):
    customer_client.cookies["django_language"] = browser[:2]
    response = customer_client.post(
        "/i18n/setlang/",
        {"language": language, "next": page},
        HTTP_ACCEPT_LANGUAGE=browser,
    )
    assert response["Location"] == expected
    assert response.cookies["django_language"].value == language
    html = customer_client.get(expected, HTTP_ACCEPT_LANGUAGE=browser).content.decode()
    assert f'<html lang="{language}">' in html


@pytest.mark.django_db
def test_a_foreign_next_address_is_not_followed(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/fr/"})
    assert response["Location"] == "/en/"


@pytest.mark.django_db
def test_an_unknown_language_changes_nothing(customer_client, customer):
    response = customer_client.post("/i18n/setlang/", {"language": "xx", "next": "/fr/account/"})
    assert response.status_code == 302
    assert User.objects.get(pk=customer.pk).language == "fr"


@pytest.mark.django_db
def test_every_logged_in_page_has_the_switcher_and_the_cancel_link(customer_client):
    for url, switch_to in [
        ("/fr/account/", "English"),
        ("/fr/account/subscription/", "English"),
        ("/en/account/invoices/", "Français"),
        ("/en/account/support/", "Français"),
        ("/en/account/settings/", "Français"),
    ]:
        html = customer_client.get(url).content.decode()
        assert f">{switch_to}</button>" in html, url
        label = "Résilier votre contrat" if url.startswith("/fr/") else "Cancel your contract"
        assert f'href="/{url[1:3]}/account/cancel/">{label}</a>' in html, url


def test_the_cancel_link_is_not_shown_to_visitors(client, db):
    assert "Cancel your contract" not in client.get("/en/").content.decode()


@pytest.mark.django_db
def test_customer_area_needs_a_login(client):
    for url in ["/fr/account/", "/en/account/invoices/", "/en/account/cancel/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert "/auth/login/" in response["Location"]
