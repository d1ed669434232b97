"""Currencies for real (issue 14, finding 4): chosen at the first subscription, from the
country or the browser by default, then kept by the subscription for every invoice, change
and refund; and the country, business and VAT number asked at sign-up (finding 5)."""

import pytest
from django.utils import timezone

from accounts.models import User
from subscriptions.models import Invoice, Price, Subscription
from subscriptions.money import format_money
from subscriptions.services.checkout import subscribe
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.invoices import invoice_amounts
from subscriptions.services.plan_changes import plan_change_quote_for
from subscriptions.services.renewals import subscription_renew
from subscriptions.services.trials import trial_start
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


def price(code, interval, currency="EUR"):
    return Price.objects.get(plan__code=code, interval=interval, currency=currency)


def test_a_uk_customer_who_started_the_trial_as_french_is_offered_pounds(
    customer_client, customer, catalog, django_assert_max_num_queries
):
    trial_start(user=customer, plan=catalog["pro"], now=timezone.now())
    customer.country = "GB"
    customer.save(update_fields=["country"])

    with django_assert_max_num_queries(20):
        html = customer_client.get("/en/account/subscription/").content.decode()

    assert "Pro – £42.00 per month" in html
    assert "Pro – €49.00 per month" not in html
    assert '<strong aria-current="true">GBP</strong>' in html
    assert "stays in the currency you choose now" in html
    # and the customer may still choose another currency before paying
    html = customer_client.get("/en/account/subscription/?currency=USD").content.decode()
    assert "Pro – $55.00 per month" in html


@pytest.mark.parametrize(
    ("accept_language", "language", "shown"),
    [
        ("en-GB,en;q=0.8", "en", "£42.00"),
        ("en-US,en;q=0.8", "en", "$55.00"),
        ("fr-FR,fr;q=0.9", "fr", "49,00\xa0€"),
        ("de-CH,de;q=0.9", "en", "€49.00"),  # francs are not offered: the language's currency
    ],
)
def test_a_visitors_currency_defaults_from_the_browser(
    client, catalog, accept_language, language, shown
):
    html = client.get(f"/{language}/", HTTP_ACCEPT_LANGUAGE=accept_language).content.decode()
    assert shown in html


def test_pounds_are_written_as_cldr_says_in_each_language(client, catalog):
    assert "42,00\xa0£GB" in client.get("/fr/?currency=GBP").content.decode()
    assert "£42.00" in client.get("/en/").content.decode()  # the choice is remembered


@pytest.mark.django_db(transaction=True)
def test_a_subscription_keeps_its_currency_for_changes_and_renewals(
    customer_client, customer, catalog, add_card
):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month", "GBP"), now=timezone.now())

    html = customer_client.get("/en/account/subscription/?currency=EUR").content.decode()
    assert 'aria-label="Currency"' not in html
    assert "Premium – £69.00 per month" in html
    assert "€" not in html
    euro = price("premium", "month", "EUR")
    assert customer_client.get(f"/en/account/subscription/change/{euro.pk}/").status_code == 404
    with pytest.raises(SubscriptionError, match="currency of your subscription"):
        plan_change_quote_for(subscription=sub, target=euro, now=timezone.now())

    sub.refresh_from_db()
    subscription_renew(subscription=sub, now=sub.current_period_end)
    assert set(Invoice.objects.filter(user=customer).values_list("currency", flat=True)) == {"GBP"}
    assert Subscription.objects.get(pk=sub.pk).currency == "GBP"


def _signup(client, **fields):
    data = {
        "name": "Oliver Smith",
        "company": "Smith Ltd",
        "email": "oliver@example.co.uk",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "country": "GB",
        "is_business": "on",
        "vat_number": "",
        **fields,
    }
    return client.post("/en/auth/signup/", data)


@pytest.mark.django_db
def test_sign_up_asks_the_country_and_whether_a_business_and_keeps_a_valid_vat_number(client):
    page = client.get("/en/auth/signup/").content.decode()
    assert 'name="country"' in page
    assert "I buy as a business" in page
    assert 'name="vat_number"' in page

    response = _signup(client, country="DE", vat_number="de 136 695 976")

    assert response.status_code == 302
    user = User.objects.get(email="oliver@example.co.uk")
    assert (user.country, user.is_business, user.vat_number) == ("DE", True, "DE136695976")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"country": "DE", "vat_number": "DE136695977"}, "This VAT number is not valid"),
        ({"country": "FR", "vat_number": "DE136695976"}, "not from the country of your address"),
        ({"country": "DE", "is_business": "", "vat_number": "DE136695976"}, "Only a business"),
    ],
)
def test_sign_up_with_a_wrong_vat_number_says_why_and_creates_nothing(client, fields, message):
    response = _signup(client, **fields)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="oliver@example.co.uk").exists()


@pytest.mark.django_db
def test_a_consumer_signs_up_without_a_vat_number(client):
    assert _signup(client, country="US", is_business="").status_code == 302
    user = User.objects.get(email="oliver@example.co.uk")
    assert (user.country, user.is_business, user.vat_number) == ("US", False, "")


def test_the_profile_refuses_a_wrong_vat_number_and_saves_nothing(customer_client, customer):
    data = {
        "name": "Camille Martin",
        "company": "",
        "address_line1": "",
        "address_line2": "",
        "postal_code": "",
        "city": "",
        "country": "BE",
        "is_business": "on",
        "vat_number": "BE0403019262",
        "time_zone": "Europe/Brussels",
        "language": "en",
    }
    response = customer_client.post("/en/account/settings/", data)
    assert response.status_code == 400
    assert "This VAT number is not valid" in response.content.decode()
    customer.refresh_from_db()
    assert (customer.country, customer.vat_number) == ("FR", "")

    response = customer_client.post("/fr/account/settings/", {**data, "vat_number": "0403019261"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.country, customer.vat_number) == ("BE", "BE0403019261")


@pytest.mark.django_db
def test_another_customers_tax_profile_is_not_used(catalog):
    """The invoice's tax is its own buyer's: a German business's reverse charge does not leak
    to a French customer's quote."""
    german = UserFactory(country="DE", vat_number="DE136695976")
    french = UserFactory(country="FR")
    pro = price("pro", "month")
    assert invoice_amounts(pro, german) == (4900, 0, 4900)
    assert invoice_amounts(pro, french) == (4900, 980, 5880)


COUNTRY_OF = {"EUR": "FR", "USD": "US", "GBP": "GB"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP"])
def test_pricing_subscribe_change_and_refund_pages_in_each_currency_and_language(
    client, customer, catalog, add_card, django_assert_max_num_queries, currency, language
):
    """Every amount on the way is in the subscription's currency, written by Babel in the
    page's language, and taxed as the customer is (French VAT in France, none abroad)."""
    customer.country = COUNTRY_OF[currency]
    customer.language = language
    customer.save(update_fields=["country", "language"])
    client.force_login(customer)
    pro, premium = price("pro", "month", currency), price("premium", "month", currency)
    taxed = currency == "EUR"
    total = pro.amount * 12 // 10 if taxed else pro.amount

    def money(amount):
        return format_money(amount, currency, language)

    with django_assert_max_num_queries(20):
        pricing = client.get(f"/{language}/").content.decode()
    assert money(pro.amount) in pricing

    with django_assert_max_num_queries(25):
        page = client.get(f"/{language}/account/subscribe/{pro.pk}/").content.decode()
    assert money(total) in page
    assert money(pro.amount) in page

    add_card(customer)
    subscribe(user=customer, price=pro, now=timezone.now())
    invoice = Invoice.objects.get(user=customer)
    assert (invoice.currency, invoice.total) == (currency, total)

    with django_assert_max_num_queries(25):
        detail = client.get(f"/{language}/account/subscription/").content.decode()
    assert money(premium.amount) in detail
    assert all(other not in detail for other in ("€", "$", "£") if other not in money(0))

    with django_assert_max_num_queries(25):
        change = client.get(f"/{language}/account/subscription/change/{premium.pk}/")
    assert change.status_code == 200
    premium_total = premium.amount * 12 // 10 if taxed else premium.amount
    assert money(premium_total) in change.content.decode()

    with django_assert_max_num_queries(25):
        refund = client.get(f"/{language}/account/invoices/{invoice.number}/refund/")
    assert refund.status_code == 200
    # The guarantee refunds the price before tax (002: taxes are never refunded).
    assert money(pro.amount) in refund.content.decode()


@pytest.mark.django_db
def test_a_sign_up_without_a_country_is_french_and_its_vat_number_checked_as_such(client):
    response = _signup(client, country="", vat_number="DE136695976")
    assert response.status_code == 200
    assert "not from the country of your address (FR…)" in response.content.decode()
    assert _signup(client, country="", vat_number="FR40303265045").status_code == 302
    user = User.objects.get(email="oliver@example.co.uk")
    assert (user.country, user.vat_number) == ("FR", "FR40303265045")
