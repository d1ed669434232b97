"""The customer's profile page (issue 7, item 1): one form, every change audited by field name,
language switched at once, e-mail and security through allauth, data links at the bottom."""

import re
from html.parser import HTMLParser

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.utils import translation
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts import services
from accounts.admin import UserAdmin
from accounts.models import PROFILE_FIELDS, User
from subscriptions.models import AuditEvent

URL = "/en/account/settings/"
VALID = {
    "name": "Camille Martin",
    "company": "Martin SARL",
    "address_line1": "12 rue de la Paix",
    "address_line2": "Bâtiment B",
    "postal_code": "75002",
    "city": "Paris",
    "country": "BE",
    "is_business": True,
    "vat_number": "",
    "time_zone": "Europe/Brussels",
    "language": "en",
}


@pytest.fixture
def customer(customer):
    """Most tests read the English page: the customer's language is English already."""
    customer.language = "en"
    customer.save()
    return customer


def _french(msgid):
    # What the French page shows for a string (its translation, once the catalog has it).
    with translation.override("fr"):
        return translation.gettext(msgid)


def _profile(user):
    return {name: getattr(User.objects.get(pk=user.pk), name) for name in PROFILE_FIELDS}


class _Links(HTMLParser):
    """The links inside <main>, in document order: (href, text)."""

    def __init__(self):
        super().__init__()
        self.in_main = False
        self.href = None
        self.text = ""
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.in_main = True
        elif tag == "a" and self.in_main:
            self.href, self.text = dict(attrs).get("href"), ""

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main = False
        elif tag == "a" and self.href is not None:
            self.links.append((self.href, " ".join(self.text.split())))
            self.href = None

    def handle_data(self, data):
        if self.href is not None:
            self.text += data


def _links_in_main(html):
    parser = _Links()
    parser.feed(html)
    return parser.links


def _selected(html, name):
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S).group(0)
    return re.search(r'<option value="([^"]*)" selected>', select).group(1)


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_the_current_values(
    customer_client, customer, django_assert_max_num_queries
):
    customer.address_line1 = "3 place du Marché"
    customer.postal_code = "69001"
    customer.city = "Lyon"
    customer.time_zone = "America/Argentina/Buenos_Aires"
    customer.save()

    with django_assert_max_num_queries(3):  # session, user, the terms banner (base.html)
        response = customer_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>My profile</h1>" in html
    for value in (customer.name, customer.company, "3 place du Marché", "69001", "Lyon"):
        assert f'value="{value}"' in html.replace("&#x27;", "'")
    assert _selected(html, "country") == "FR"
    assert _selected(html, "time_zone") == "America/Argentina/Buenos_Aires"
    assert ">Argentina (Buenos Aires)</option>" in html
    assert _selected(html, "language") == "en"
    assert customer.email in html
    # The country's help text says what it drives.
    assert "Your country sets the tax on your invoices and the public holidays" in html


@pytest.mark.django_db
def test_the_page_is_in_french_for_a_french_customer(customer_client, customer):
    customer.language = "fr"
    customer.save()
    html = customer_client.get("/fr/account/settings/").content.decode()
    assert '<html lang="fr">' in html
    assert f"<h1>{_french('My profile')}</h1>" in html
    assert _selected(html, "language") == "fr"
    assert '<option value="fr" selected>Français</option>' in html
    assert '<option value="en">English</option>' in html


@pytest.mark.django_db
def test_the_page_links_to_email_password_and_two_factor_pages(customer_client):
    links = dict(_links_in_main(customer_client.get(URL).content.decode()))
    assert links["/en/auth/email/"] == "Change my e-mail address"
    assert links["/en/auth/password/change/"] == "Change my password"
    assert links["/en/auth/2fa/"] == "Two-factor authentication"


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "en"])
def test_delete_my_account_is_the_last_link_with_export_just_above(customer_client, language):
    html = customer_client.get(f"/{language}/account/settings/").content.decode()
    links = _links_in_main(html)
    with translation.override(language):
        texts = [translation.gettext("Export my data"), translation.gettext("Delete my account")]
    assert links[-2:] == [
        (f"/{language}/account/data/", texts[0]),
        (f"/{language}/account/data/delete/", texts[1]),
    ]


@pytest.mark.django_db
def test_the_page_needs_a_login(client, customer):
    before = _profile(customer)
    for response in (client.get(URL), client.post(URL, {**VALID, "name": "Intrus"})):
        assert response.status_code == 302
        assert "/auth/login/" in response["Location"]
    assert _profile(customer) == before
    assert not AuditEvent.objects.exists()


# --- saving -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_saving_changes_the_profile_and_audits_the_changed_field_names_only(
    customer_client, customer
):
    response = customer_client.post(URL, VALID)

    assert response.status_code == 302
    assert response["Location"] == URL
    assert _profile(customer) == VALID
    event = AuditEvent.objects.get()
    assert (event.user, event.actor, event.kind) == (customer, customer, "profile_updated")
    assert event.data == {
        "changes": [
            "name",
            "company",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "country",
            "time_zone",
        ]
    }
    # No personal value in the audit trail.
    assert "Martin" not in str(event.data)
    page = customer_client.get(URL).content.decode()
    assert "Your profile has been saved." in page


@pytest.mark.django_db
def test_only_the_changed_fields_are_audited(customer_client, customer):
    data = {name: getattr(customer, name) for name in PROFILE_FIELDS}
    customer_client.post(URL, {**data, "city": "Nantes"})
    assert AuditEvent.objects.get().data == {"changes": ["city"]}


@pytest.mark.django_db
def test_saving_without_a_change_writes_no_audit_event(customer_client, customer):
    data = {name: getattr(customer, name) for name in PROFILE_FIELDS}
    response = customer_client.post(URL, data, follow=True)
    assert response.status_code == 200
    assert not AuditEvent.objects.exists()
    assert "No change to save: your profile is as it was." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "ZZ"),
        ("country", ""),
        ("time_zone", "Mars/Olympus_Mons"),
        ("time_zone", ""),
        ("language", "de"),
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 151),
        ("postal_code", "7" * 21),
        ("city", "Paris\r\nBcc: someone@example.com"),
        ("company", "Martin\x00SARL"),
    ],
)
def test_an_invalid_value_is_refused_and_nothing_is_saved(customer_client, customer, field, value):
    before = _profile(customer)

    response = customer_client.post(URL, {**VALID, field: value})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Your profile was not saved: please correct the fields shown below." in html
    assert 'class="errorlist' in html
    assert 'aria-invalid="true"' in html
    assert _profile(customer) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_missing_field_is_refused(customer_client, customer):
    data = dict(VALID)
    del data["country"]
    assert customer_client.post(URL, data).status_code == 400
    assert _profile(customer)["country"] == "FR"
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_choosing_english_switches_the_page_to_english(customer_client, customer):
    customer.language = "fr"
    customer.save()
    response = customer_client.post("/fr/account/settings/", {**VALID, "language": "en"})

    assert response.status_code == 302
    assert response["Location"] == "/en/account/settings/"
    assert response.cookies["django_language"].value == "en"
    customer.refresh_from_db()
    assert customer.language == "en"
    assert "language" in AuditEvent.objects.get().data["changes"]

    page = customer_client.get(response["Location"])
    html = page.content.decode()
    assert '<html lang="en">' in html
    assert "<h1>My profile</h1>" in html
    assert "Your profile has been saved." in html
    assert _selected(html, "language") == "en"


@pytest.mark.django_db
def test_choosing_french_from_the_english_page_comes_back_in_french(customer_client, customer):
    response = customer_client.post(URL, {**VALID, "language": "fr"})
    assert response["Location"] == "/fr/account/settings/"
    html = customer_client.get(response["Location"]).content.decode()
    assert '<html lang="fr">' in html
    assert _french("Your profile has been saved.") in html


# --- e-mail address: allauth, re-verified ----------------------------------------------------


@pytest.mark.django_db
def test_a_new_email_address_is_used_only_once_verified(customer_client, customer):
    """Changing the address asks for the password again; the new address gets a confirmation
    link and the login stays the old address until then."""
    old = customer.email
    first = customer_client.post(
        "/en/auth/email/", {"action_add": "", "email": "new.address@example.com"}
    )
    assert first["Location"].startswith("/en/auth/reauthenticate/")
    assert not mail.outbox
    customer_client.post("/en/auth/reauthenticate/", {"password": "correct horse battery staple"})

    response = customer_client.post(
        "/en/auth/email/", {"action_add": "", "email": "new.address@example.com"}
    )

    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["new.address@example.com"]]
    assert "/auth/confirm-email/" in mail.outbox[0].body
    assert User.objects.get(pk=customer.pk).email == old
    assert not EmailAddress.objects.get(email="new.address@example.com").verified


@pytest.mark.django_db
def test_with_change_email_on_the_verified_address_replaces_the_old_one(
    customer_client, customer, settings
):
    """The intended behaviour once ACCOUNT_CHANGE_EMAIL = True: one address per account, and
    following the link sent to the new address replaces the old one."""
    settings.ACCOUNT_CHANGE_EMAIL = True
    customer_client.post("/en/auth/reauthenticate/", {"password": "correct horse battery staple"})
    customer_client.post("/en/auth/email/", {"action_add": "", "email": "new.address@example.com"})
    link = re.search(r"/en/auth/confirm-email/[^\s]+/", mail.outbox[0].body).group(0)

    customer_client.post(link)

    assert User.objects.get(pk=customer.pk).email == "new.address@example.com"
    assert list(EmailAddress.objects.filter(user=customer).values_list("email", "primary")) == [
        ("new.address@example.com", True)
    ]


# --- the service and the admin --------------------------------------------------------------


@pytest.mark.django_db
def test_profile_update_returns_the_changed_fields_and_updates_the_given_user(customer):
    changed = services.profile_update(user=customer, data={"language": "fr", "city": "Lille"})

    assert changed == ["city", "language"]
    assert (customer.city, customer.language) == ("Lille", "fr")
    saved = User.objects.get(pk=customer.pk)
    assert (saved.city, saved.language) == ("Lille", "fr")
    assert services.profile_update(user=customer, data={"city": "Lille"}) == []
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_profile_update_refuses_other_fields_and_invalid_values(customer):
    with pytest.raises(ValueError, match="is_staff"):
        services.profile_update(user=customer, data={"is_staff": True})
    with pytest.raises(Exception, match="ZZ"):
        services.profile_update(user=customer, data={"city": "Lille", "country": "ZZ"})
    assert User.objects.get(pk=customer.pk).city == ""
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_the_admin_shows_the_address_and_audits_staff_edits(admin_client, admin_user, customer):
    html = admin_client.get(f"/en/admin/accounts/user/{customer.pk}/change/").content.decode()
    for name in PROFILE_FIELDS:
        assert f'name="{name}"' in html

    class Form:
        changed_data = ["city", "is_active"]

    customer.city = "Rennes"
    request = type("Request", (), {"user": admin_user})()
    UserAdmin(User, None).save_model(request, customer, Form(), change=True)

    event = AuditEvent.objects.get()
    assert (event.user, event.actor, event.data) == (customer, admin_user, {"changes": ["city"]})


# --- anything a browser (or not) may send --------------------------------------------------

_ten_kb = st.text(min_size=1, max_size=8).map(lambda s: (s * (10_240 // len(s) + 1))[:10_240])
_printable = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=100)
_nasty = st.one_of(
    _printable,
    _printable,
    st.text(),
    st.text(alphabet=st.sampled_from("\x00\n\r\t\x1b\u202e\ufeff\u200béÉ€😀 a"), max_size=12),
    _ten_kb,
    st.sampled_from(["", " ", "FR", "en", "Europe/Paris", "\x00", "FR\x00", "é" * 200]),
)
_CHOICES = {"country": ["FR", "GB", "US"], "time_zone": ["UTC", "Asia/Tokyo"], "language": ["fr"]}
_overrides = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(st.sampled_from(_CHOICES[name]), _nasty) if name in _CHOICES else _nasty
        for name in PROFILE_FIELDS
    },
)
_MAX_LENGTH = {name: User._meta.get_field(name).max_length for name in PROFILE_FIELDS}


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=100,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(overrides=_overrides)
def test_random_input_never_fails_and_never_stores_a_nul_byte(customer_client, customer, overrides):
    response = customer_client.post(URL, {**VALID, **overrides})

    event(f"status {response.status_code}")
    assert response.status_code in (302, 400)
    for name, value in _profile(customer).items():
        if isinstance(value, bool):
            continue
        assert "\x00" not in value
        assert "\n" not in value
        assert len(value) <= _MAX_LENGTH[name]
    for audit_event in AuditEvent.objects.all():
        assert set(audit_event.data["changes"]) <= set(PROFILE_FIELDS)


@pytest.mark.parametrize("field", ["name", "company", "address_line1", "city"])
@pytest.mark.parametrize("broken", ["Ada\nLovelace", "Ada\r\nBcc: x@example.com", "Ada\u2028L"])
def test_the_admin_user_form_refuses_line_breaks_as_the_profile_does(customer, field, broken):
    from accounts.admin import UserAdminForm

    data = {
        "email": customer.email,
        "date_joined": "2026-01-01 00:00:00",
        "name": "Ada",
        "country": "FR",
        "language": "fr",
        "time_zone": "Europe/Paris",
        field: broken,
    }
    form = UserAdminForm(data, instance=customer)
    assert not form.is_valid()
    assert form.errors[field] == [
        "Enter a single line of text, without line breaks or control characters."
    ]
    assert (
        UserAdminForm({**data, field: "Ada Lovelace"}, instance=customer).errors.get(field) is None
    )
