"""The customer's tax: their VAT number checked offline (python-stdnum), and the rule of
``subscriptions.tax_rules`` applied with the settings' rates. No writes, no I/O."""

from typing import Protocol

from django.conf import settings
from django.utils.translation import gettext as _
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from subscriptions import policy


class TaxProfile(Protocol):
    """What decides a customer's tax: a User, or a form's cleaned data."""

    @property
    def country(self) -> str: ...
    @property
    def is_business(self) -> bool: ...
    @property
    def vat_number(self) -> str: ...


class VatNumberError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def vat_prefix(country: str) -> str:
    return "EL" if country.upper() == "GR" else country.upper()


def vat_number_clean(number: str, *, country: str) -> str:
    """The VAT number in its compact form, prefixed by its country ("FR40303265045"), or
    VatNumberError with a message for the customer. Format and check digits only: no VIES
    lookup is made (the number may exist and still be checked by staff)."""
    country = country.upper()
    invalid = _("This VAT number is not valid: please check it.")
    raw = "".join(c for c in (number or "") if c not in " .-/").upper()
    if not raw:
        return ""
    if country in policy.EU_COUNTRIES:
        if not raw[:2].isalpha():
            raw = vat_prefix(country) + raw
        if raw[:2] != vat_prefix(country):
            raise VatNumberError(
                _("This VAT number is not from the country of your address (%(prefix)s…).")
                % {"prefix": vat_prefix(country)}
            )
        try:
            return str(eu_vat.validate(raw))
        except StdnumError as exc:
            raise VatNumberError(invalid) from exc
    module = get_cc_module(country.lower(), "vat")
    if module is None:
        raise VatNumberError(
            _("Customers in this country have no VAT number to give: leave the field empty.")
        )
    try:
        compact = str(module.validate(raw))
    except StdnumError as exc:
        raise VatNumberError(invalid) from exc
    return compact if compact[:2].isalpha() else country + compact


def vat_number_valid(profile: TaxProfile) -> bool:
    if not profile.vat_number:
        return False
    try:
        vat_number_clean(profile.vat_number, country=profile.country)
    except VatNumberError:
        return False
    return True


def customer_tax(profile: TaxProfile) -> policy.TaxTreatment:
    """How this customer is taxed now (French customer 20 %, EU business with a valid VAT
    number reverse-charged, outside the EU 0 %, EU consumer at the French or OSS rate)."""
    return policy.tax_treatment(
        country=profile.country or settings.VAT_SELLER_COUNTRY,
        is_business=profile.is_business,
        vat_number_valid=profile.is_business and vat_number_valid(profile),
        seller_country=settings.VAT_SELLER_COUNTRY,
        domestic_rate_bps=settings.VAT_DOMESTIC_RATE_BPS,
        oss_rates_bps=settings.VAT_OSS_RATES_BPS,
    )
