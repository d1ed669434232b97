"""Customer pages without dead ends (issue 17): history, language switch, favicon, menus."""

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils import timezone

from accounts.forms import time_zone_choices
from subscriptions.models import Price
from subscriptions.services.checkout import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(customer, catalog, add_card):
    add_card(customer)
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    return subscribe(user=customer, price=price, now=timezone.now())


def test_the_favicon_is_served_where_browsers_ask_for_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("favicon.ico")
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an .ico file


def test_the_confirmation_reopened_from_history_shows_the_summary_again(
    customer_client, subscribed
):
    customer_client.post("/fr/account/cancel/", {"reason": "Trop cher"})
    page = customer_client.get("/fr/account/cancel/confirm/", follow=True)
    assert page.redirect_chain == [("/fr/account/cancel/?step=summary", 302)]
    html = page.content.decode()
    assert "Récapitulatif de votre demande de résiliation" in html
    assert "Trop cher" in html
    assert "Confirmer ma demande de résiliation" in html
    subscribed.refresh_from_db()
    assert subscribed.cancel_at is None  # nothing was recorded by reopening the page


def test_switching_language_on_the_summary_stays_on_the_summary(customer_client, subscribed):
    summary = customer_client.post("/fr/account/cancel/", {"reason": "Trop cher"})
    assert 'name="next" value="/fr/account/cancel/?step=summary"' in summary.content.decode()
    switched = customer_client.post(
        "/i18n/setlang/",
        {"language": "en", "next": "/fr/account/cancel/?step=summary"},
        follow=True,
    )
    assert switched.redirect_chain[0][0] == "/en/account/cancel/?step=summary"
    html = switched.content.decode()
    assert "Summary of your cancellation request" in html
    assert "Confirm my cancellation request" in html
    assert "Trop cher" in html  # the reason given at step 2 is kept


def test_after_confirming_the_reopened_confirmation_says_what_was_recorded(
    customer_client, subscribed
):
    summary = customer_client.post("/en/account/cancel/", {"reason": ""}).content.decode()
    token = summary.split('name="quote" value="')[1].split('"')[0]
    customer_client.post("/en/account/cancel/confirm/", {"reason": "", "quote": token})
    page = customer_client.get("/en/account/cancel/confirm/", follow=True)
    assert page.status_code == 200
    assert "Keep my subscription" in page.content.decode()


def test_the_time_zone_menu_names_places_in_the_page_language_without_old_aliases():
    french = dict(time_zone_choices("fr"))
    english = dict(time_zone_choices("en"))
    assert french["Europe/Paris"] == "France (Paris)"
    assert french["Europe/London"] == "Royaume-Uni (Londres)"
    assert english["America/New_York"] == "United States (New York)"
    assert "Europe/Kiev" not in french
    assert "US/Eastern" not in french
    assert "Europe/Kyiv" in french
    # A customer who has an old alias keeps it selectable.
    assert dict(time_zone_choices("fr", "Europe/Kiev"))["Europe/Kiev"] == "Europe/Kiev"


def test_the_profile_offers_the_named_time_zones(customer_client):
    html = customer_client.get("/fr/account/settings/").content.decode()
    assert '<option value="Europe/Paris" selected>France (Paris)</option>' in html
    assert "America/Argentina/ComodRivadavia" not in html


def test_every_page_of_the_account_links_to_the_refund_requests(customer_client, catalog):
    for path in ("/fr/account/", "/fr/account/invoices/", "/fr/account/settings/"):
        html = customer_client.get(path).content.decode()
        assert '<a href="/fr/account/refunds/">Remboursements</a>' in html, path


@pytest.mark.django_db(transaction=True)
def test_the_export_notice_says_it_is_ready_when_it_already_is(customer_client, catalog):
    # Committed for real: the (eager) worker builds the export before the page is shown.
    response = customer_client.post("/fr/account/data/", follow=True)
    html = response.content.decode()
    assert "Votre export est prêt : téléchargez-le ci-dessous." in html
    assert "nous vous enverrons un lien" not in html


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", 'outside the rules of our <a href="/en/terms/">terms of service</a>.'),
        ("fr", 'en dehors des règles de nos <a href="/fr/terms/">conditions générales</a>.'),
    ],
)
def test_a_refund_outside_the_rules_points_to_the_rules_instead_of_above(
    customer_client, customer, catalog, add_card, language, says
):
    # Issue 17: "règles ci-dessus" with no rules above; the rules are in the terms.
    import time_machine

    from subscriptions.models import Invoice

    start = timezone.now() - timezone.timedelta(days=20)  # past the 14-day guarantee
    add_card(customer)
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    subscribe(user=customer, price=price, now=start)
    with time_machine.travel(start + timezone.timedelta(days=20)):
        html = customer_client.get(
            f"/{language}/account/invoices/{Invoice.objects.get().number}/refund/"
        ).content.decode()
    assert says in html
    assert "ci-dessus" not in html
    assert "rules above" not in html


@pytest.mark.parametrize(
    ("language", "sizes"),
    [("fr", ["1 Ko", "12 Ko", "1,5 Mo"]), ("en", ["1 KB", "12 KB", "1.5 MB"])],
)
def test_sizes_use_one_unit_family_per_language(language, sizes):
    # Issue 17: sizes mixed "Kio" and "Ko".
    from django.utils import translation

    from subscriptions.templatetags.portal import filesize

    with translation.override(language):
        shown = [filesize(n).replace("\xa0", " ") for n in (300, 12 * 1024, 1536 * 1024)]
    assert shown == sizes
    assert not any("Kio" in s or "KiB" in s for s in shown)
