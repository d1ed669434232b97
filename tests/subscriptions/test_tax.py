"""Tax by the customer, not by the price (issue 14, finding 5): the rule table, the VAT number
check, and what the subscribe page, the invoice and Stripe then say."""

from types import SimpleNamespace

import pytest
import stripe
from django.utils import timezone

from subscriptions import policy, wording
from subscriptions.models import Invoice, Price, TaxRegime
from subscriptions.services.checkout import subscribe
from subscriptions.services.renewals import subscription_renew
from subscriptions.taxes import VatNumberError, customer_tax, vat_number_clean

# Valid numbers by format and check digits (python-stdnum's own examples).
FR_VAT = "FR40303265045"
DE_VAT = "DE136695976"
BE_VAT = "BE0403019261"
GR_VAT = "EL094259216"
GB_VAT = "GB980780684"


def price(code, interval, currency="EUR"):
    return Price.objects.get(plan__code=code, interval=interval, currency=currency)


# --- the rule table (pure) -------------------------------------------------------------------

RULES = [
    # id, country, business, valid VAT number, OSS rates -> regime, rate, OSS rate missing
    ("fr-business", "FR", True, True, None, "fr_vat", 2000, False),
    ("fr-business-no-number", "FR", True, False, None, "fr_vat", 2000, False),
    ("fr-consumer", "FR", False, False, None, "fr_vat", 2000, False),
    ("de-business-valid-number", "DE", True, True, None, "reverse_charge", 0, False),
    ("gr-business-valid-number", "GR", True, True, None, "reverse_charge", 0, False),
    ("de-business-no-valid-number", "DE", True, False, None, "fr_vat", 2000, True),
    ("de-consumer", "DE", False, False, None, "fr_vat", 2000, True),
    ("de-consumer-number-ignored", "DE", False, True, None, "fr_vat", 2000, True),
    ("de-consumer-oss-rate-set", "DE", False, False, {"DE": 1900}, "fr_vat", 1900, False),
    ("be-consumer-oss-other-country", "BE", False, False, {"DE": 1900}, "fr_vat", 2000, True),
    ("gb-business", "GB", True, True, None, "outside_scope", 0, False),
    ("gb-consumer", "GB", False, False, None, "outside_scope", 0, False),
    ("us-business", "US", True, False, None, "outside_scope", 0, False),
    ("ch-consumer", "CH", False, False, None, "outside_scope", 0, False),
    ("ca-business", "CA", True, False, None, "outside_scope", 0, False),
    ("lower-case-country", "de", True, True, None, "reverse_charge", 0, False),
]


@pytest.mark.parametrize(
    ("country", "business", "valid", "oss", "regime", "rate", "oss_missing"),
    [pytest.param(*row[1:], id=row[0]) for row in RULES],
)
def test_tax_treatment_by_table(country, business, valid, oss, regime, rate, oss_missing):
    treatment = policy.tax_treatment(
        country=country, is_business=business, vat_number_valid=valid, oss_rates_bps=oss
    )
    assert (treatment.regime, treatment.rate_bps, treatment.oss_rate_missing) == (
        regime,
        rate,
        oss_missing,
    )
    assert treatment.country == country.upper()
    assert treatment.regime in TaxRegime.values


def test_the_domestic_rate_is_a_setting_not_a_constant():
    treatment = policy.tax_treatment(
        country="FR", is_business=True, vat_number_valid=True, domestic_rate_bps=550
    )
    assert treatment == policy.TaxTreatment("fr_vat", 550, "FR")


@pytest.mark.parametrize("rate", [-1, 10001, 20.0, True])
def test_an_impossible_rate_is_refused(rate):
    with pytest.raises(ValueError, match="basis points"):
        policy.tax_treatment(
            country="FR", is_business=True, vat_number_valid=False, domestic_rate_bps=rate
        )


@pytest.mark.parametrize(
    ("amount", "rate", "included", "expected"),
    [
        pytest.param(4900, 2000, False, (4900, 980, 5880), id="pro-monthly-french"),
        pytest.param(49000, 2000, False, (49000, 9800, 58800), id="standard-yearly-french"),
        pytest.param(4900, 0, False, (4900, 0, 4900), id="before-tax-untaxed"),
        pytest.param(4900, 2000, True, (4083, 817, 4900), id="included-french"),
        pytest.param(4900, 0, True, (4900, 0, 4900), id="included-untaxed"),
        pytest.param(3, 2000, False, (3, 1, 4), id="half-cent-rounds-up"),
        pytest.param(2, 2000, False, (2, 0, 2), id="under-half-cent-rounds-down"),
        pytest.param(0, 2000, False, (0, 0, 0), id="free"),
    ],
)
def test_price_tax_by_table(amount, rate, included, expected):
    taxed = policy.price_tax(amount, rate_bps=rate, tax_included=included)
    assert (taxed.subtotal, taxed.tax, taxed.total) == expected
    assert taxed.subtotal + taxed.tax == taxed.total


def test_a_negative_price_is_refused():
    with pytest.raises(ValueError, match="negative"):
        policy.price_tax(-1, rate_bps=2000, tax_included=False)


# --- the VAT number, offline (python-stdnum) ---------------------------------------------------


@pytest.mark.parametrize(
    ("number", "country", "expected"),
    [
        ("FR 40 303 265 045", "FR", FR_VAT),
        ("40303265045", "FR", FR_VAT),
        ("de 136.695.976", "DE", DE_VAT),
        ("0403.019.261", "BE", BE_VAT),
        ("094259216", "GR", GR_VAT),
        ("GB 980 7806 84", "GB", GB_VAT),
        ("", "DE", ""),
    ],
)
def test_a_valid_vat_number_is_kept_compact_with_its_prefix(number, country, expected):
    assert vat_number_clean(number, country=country) == expected


@pytest.mark.parametrize(
    ("number", "country", "message"),
    [
        ("FR40303265046", "FR", "not valid"),  # one check digit off
        ("DE13669597", "DE", "not valid"),  # too short
        (DE_VAT, "FR", "not from the country of your address (FR…)"),
        ("☃\u200b", "DE", "not valid"),
        ("12-3456789", "US", "no VAT number to give"),
    ],
)
def test_a_wrong_vat_number_is_explained(number, country, message):
    with pytest.raises(VatNumberError) as caught:
        vat_number_clean(number, country=country)
    assert message in caught.value.message


def test_customer_tax_reads_the_profile_and_the_oss_setting(settings):
    german = SimpleNamespace(country="DE", is_business=True, vat_number=DE_VAT)
    assert customer_tax(german).regime == "reverse_charge"
    german.vat_number = "DE136695977"  # check digit off: no reverse charge
    assert (customer_tax(german).regime, customer_tax(german).rate_bps) == ("fr_vat", 2000)
    settings.VAT_OSS_RATES_BPS = {"DE": 1900}
    assert customer_tax(german).rate_bps == 1900


def test_the_page_words_each_rule_in_both_languages():
    reverse = policy.TaxTreatment("reverse_charge", 0, "DE")
    outside = policy.TaxTreatment("outside_scope", 0, "GB")
    french = policy.TaxTreatment("fr_vat", 2000, "FR")
    assert wording.tax_mention(reverse, "fr") == (
        "Autoliquidation – article 196 de la directive 2006/112/CE"
    )
    assert wording.tax_mention(reverse, "en") == (
        "Reverse charge – Article 196 of Directive 2006/112/EC"
    )
    assert "hors du champ de la TVA française" in wording.tax_mention(outside, "fr")
    assert wording.tax_mention(french, "fr") == ""
    assert wording.tax_rate(french, "fr") == "20\xa0%"
    belgian = policy.TaxTreatment("fr_vat", 2000, "BE", oss_rate_missing=True)
    assert "VAT number of your business" in wording.tax_summary(belgian, "en")
    assert wording.tax_summary(belgian, "en", is_business=False) == (
        "French VAT at 20% is charged."
    )
    assert wording.tax_rate(french, "en") == "20%"


# --- applied: the page, the invoice, Stripe ----------------------------------------------------


def _tax_profile(user, country, *, business=True, vat_number=""):
    user.country, user.is_business, user.vat_number = country, business, vat_number
    user.save(update_fields=["country", "is_business", "vat_number"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("country", "business", "vat_number", "currency", "regime", "rate", "tax", "total"),
    [
        pytest.param("FR", True, FR_VAT, "EUR", "fr_vat", 2000, 980, 5880, id="french-business"),
        pytest.param("DE", True, DE_VAT, "EUR", "reverse_charge", 0, 0, 4900, id="eu-business"),
        pytest.param("DE", False, "", "EUR", "fr_vat", 2000, 980, 5880, id="eu-consumer"),
        pytest.param("GB", True, GB_VAT, "GBP", "outside_scope", 0, 0, 4200, id="uk-company"),
        pytest.param("US", True, "", "USD", "outside_scope", 0, 0, 5500, id="us-company"),
    ],
)
def test_the_first_invoice_and_the_charge_follow_the_customer(
    customer, catalog, add_card, country, business, vat_number, currency, regime, rate, tax, total
):
    _tax_profile(customer, country, business=business, vat_number=vat_number)
    add_card(customer)

    subscribe(user=customer, price=price("pro", "month", currency), now=timezone.now())

    invoice = Invoice.objects.get(user=customer)
    assert (invoice.currency, invoice.tax_regime, invoice.tax_rate_bps) == (currency, regime, rate)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (total - tax, tax, total)
    assert invoice.buyer["vat_number"] == vat_number
    intent = stripe.PaymentIntent.retrieve(invoice.stripe_payment_intent_id)
    assert (intent.amount, intent.currency) == (total, currency.lower())


@pytest.mark.django_db(transaction=True)
def test_a_renewal_is_taxed_as_the_customer_is_on_that_day(customer, catalog, add_card):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=timezone.now())
    # The customer moves their company to Germany and gives its VAT number.
    _tax_profile(customer, "DE", vat_number=DE_VAT)
    sub.refresh_from_db()

    subscription_renew(subscription=sub, now=sub.current_period_end)

    first, renewal = Invoice.objects.filter(user=customer).order_by("issued_at")
    assert (first.tax_regime, first.total) == ("fr_vat", 5880)
    assert (renewal.tax_regime, renewal.tax, renewal.total) == ("reverse_charge", 0, 4900)


@pytest.mark.parametrize(
    ("language", "country", "vat_number", "shown", "absent"),
    [
        pytest.param(
            "en",
            "DE",
            DE_VAT,
            ["Pay €49.00 and subscribe", "Reverse charge – Article 196 of Directive"],
            ["€9.80", "€58.80"],
            id="eu-business-en",
        ),
        pytest.param(
            "fr",
            "DE",
            DE_VAT,
            [
                "Payer 49,00\xa0€ et s’abonner",
                "Autoliquidation – article 196 de la directive 2006/112/CE",
            ],
            ["58,80"],
            id="eu-business-fr",
        ),
        pytest.param(
            "en",
            "FR",
            "",
            ["Pay €58.80 and subscribe", "VAT (20%)", "French VAT at 20% is charged."],
            ["Reverse charge"],
            id="french-en",
        ),
        pytest.param(
            "en",
            "BE",
            "",
            ["Pay €58.80 and subscribe", "give the VAT number of your business"],
            [],
            id="eu-business-without-number-en",
        ),
    ],
)
def test_the_subscribe_page_shows_the_customers_tax_before_the_card(
    customer_client,
    customer,
    catalog,
    stripe_server,
    django_assert_max_num_queries,
    language,
    country,
    vat_number,
    shown,
    absent,
):
    _tax_profile(customer, country, vat_number=vat_number)
    url = f"/{language}/account/subscribe/{price('pro', 'month').pk}/"
    with django_assert_max_num_queries(20):
        html = customer_client.get(url).content.decode()
    for text in shown:
        assert text in html
    for text in absent:
        assert text not in html
