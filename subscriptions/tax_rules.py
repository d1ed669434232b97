"""Tax by the customer, not by the price: the VAT rules as data and one pure function.

Pure like ``subscriptions.policy`` (which re-exports these names): plain values in, frozen
dataclasses out; no Django, no settings, no I/O. The seller is established in France. Whether
a VAT number is valid is decided by the caller (python-stdnum, offline) and passed in.

Rules (first match wins):
- a customer in the seller's country pays the domestic VAT (France: 20 %);
- an EU business with a valid VAT number is reverse-charged: 0 %, and the invoice carries
  the reverse-charge mention (article 196 of Directive 2006/112/EC);
- any other EU customer (a consumer, or a business without a valid VAT number) pays the
  domestic rate, unless an OSS rate is set for their country (a setting: ``oss_rates_bps``);
- a customer outside the EU is outside the scope of French VAT: 0 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "EU_COUNTRIES",
    "TAX_RULES",
    "TaxRule",
    "TaxTreatment",
    "TaxedAmount",
    "price_tax",
    "tax_treatment",
]

TaxRegimeCode = Literal["fr_vat", "reverse_charge", "outside_scope"]
Zone = Literal["domestic", "eu", "non_eu"]
RateSource = Literal["domestic", "oss", "zero"]

# The 27 member states of the European Union (ISO 3166-1 alpha-2; Greece's VAT prefix is EL).
EU_COUNTRIES: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


@dataclass(frozen=True, slots=True)
class TaxRule:
    """One row of the table: who it applies to (None: either) and what it decides."""

    zone: Zone
    business: bool | None
    valid_vat_number: bool | None
    regime: TaxRegimeCode
    rate: RateSource


TAX_RULES: tuple[TaxRule, ...] = (
    TaxRule("domestic", None, None, "fr_vat", "domestic"),
    # Directive 2006/112/EC art. 44 and 196: B2B services are taxed where the buyer is, by
    # the buyer.
    TaxRule("eu", True, True, "reverse_charge", "zero"),
    # EU consumers (and businesses that gave no valid number): French VAT, or the OSS rate of
    # their country once one is set (above the EU-wide 10 000 € threshold).
    TaxRule("eu", None, None, "fr_vat", "oss"),
    # CGI art. 259-1 and 259 B: outside the EU, no French VAT.
    TaxRule("non_eu", None, None, "outside_scope", "zero"),
)


@dataclass(frozen=True, slots=True)
class TaxTreatment:
    """How one customer is taxed: the invoice's VAT rule and rate."""

    regime: TaxRegimeCode
    rate_bps: int  # 2000 = 20 %
    country: str
    # An EU consumer taxed at the domestic rate because no OSS rate is set for the country.
    oss_rate_missing: bool = False

    @property
    def taxed(self) -> bool:
        return self.rate_bps > 0


@dataclass(frozen=True, slots=True)
class TaxedAmount:
    subtotal: int  # before tax
    tax: int
    total: int  # what the card is charged


def tax_treatment(
    *,
    country: str,
    is_business: bool,
    vat_number_valid: bool,
    seller_country: str = "FR",
    domestic_rate_bps: int = 2000,
    oss_rates_bps: Mapping[str, int] | None = None,
    rules: tuple[TaxRule, ...] = TAX_RULES,
) -> TaxTreatment:
    """The VAT rule and rate for a customer, by the first matching row of ``rules``."""
    country = country.upper()
    if country == seller_country.upper():
        zone: Zone = "domestic"
    elif country in EU_COUNTRIES:
        zone = "eu"
    else:
        zone = "non_eu"
    for rule in rules:
        if rule.zone != zone:
            continue
        if rule.business is not None and rule.business != is_business:
            continue
        if rule.valid_vat_number is not None and rule.valid_vat_number != vat_number_valid:
            continue
        if rule.rate == "zero":
            return TaxTreatment(rule.regime, 0, country)
        if rule.rate == "oss" and oss_rates_bps and country in oss_rates_bps:
            return TaxTreatment(rule.regime, _rate(oss_rates_bps[country]), country)
        return TaxTreatment(
            rule.regime, _rate(domestic_rate_bps), country, oss_rate_missing=rule.rate == "oss"
        )
    raise ValueError(f"no tax rule for {zone} customer in {country}")


def price_tax(amount: int, *, rate_bps: int, tax_included: bool) -> TaxedAmount:
    """Subtotal, tax and total of a price at a rate, to the nearest minor unit (half up).

    A price stored before tax (``tax_included=False``) gets the tax added on top; a price
    whose amount includes tax keeps its amount as the total, the tax being taken out of it.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    rate = _rate(rate_bps)
    if not tax_included:
        tax = (amount * rate + 5000) // 10000
        return TaxedAmount(amount, tax, amount + tax)
    net = (amount * 10000 * 2 + (10000 + rate)) // (2 * (10000 + rate))
    return TaxedAmount(net, amount - net, amount)


def _rate(rate_bps: int) -> int:
    if isinstance(rate_bps, bool) or not isinstance(rate_bps, int) or not 0 <= rate_bps <= 10000:
        raise ValueError(f"a tax rate is 0 to 10000 basis points, not {rate_bps!r}")
    return rate_bps
