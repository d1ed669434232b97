"""Money display: integer minor units plus an ISO currency, formatted by Babel.

Pure: no settings, no active-language lookups; the caller passes the language.
Never goes through floats: minor units become an exact Decimal.
"""

from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, get_territory_currencies

# The portal speaks French and English; a bare language code gets the locale the design
# shows ("1 234,56 €" in French, "€1,234.56" in English).
DEFAULT_LOCALES = {"fr": "fr_FR", "en": "en"}
FALLBACK_LOCALE = "en"


@lru_cache(maxsize=64)
def babel_locale(language: str) -> str:
    """The Babel locale identifier for a Django language code ("fr", "en", "en-gb", "fr_FR")."""
    code = (language or "").strip().replace("-", "_")
    lang, _, region = code.partition("_")
    lang = lang.lower()
    candidate = f"{lang}_{region.upper()}" if region else DEFAULT_LOCALES.get(lang, lang)
    try:
        Locale.parse(candidate)
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LOCALES.get(lang, FALLBACK_LOCALE)
    return candidate


@lru_cache(maxsize=64)
def locale(language: str) -> Locale:
    """The parsed Babel locale of a language, once per process: a list of amounts or dates
    is formatted without parsing the locale again for each."""
    return Locale.parse(babel_locale(language))


@lru_cache(maxsize=64)
def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (2 for EUR, 0 for JPY)."""
    return int(get_currency_precision(currency.upper()))


def to_major_units(amount: int, currency: str) -> Decimal:
    """4900 EUR cents -> Decimal("49.00"), exactly."""
    exponent = minor_unit_exponent(currency)
    return Decimal(int(amount)).scaleb(-exponent)


@lru_cache(maxsize=4096)
def format_money(amount: int, currency: str, language: str) -> str:
    """format_money(123456, "EUR", "fr") -> "1 234,56 €"; in "en" -> "€1,234.56".

    Kept per process: a page of prices or invoices formats the same few amounts again and
    again, and Babel takes a tenth of a millisecond for each."""
    currency = currency.upper()
    return str(format_currency(to_major_units(amount, currency), currency, locale=locale(language)))


def currency_for_country(country: str, offered: tuple[str, ...] | list[str]) -> str | None:
    """The offered currency of a country by CLDR ("GB" -> "GBP", "DE" -> "EUR"), or None when
    the country's own currency is not offered (Switzerland, Canada)."""
    if not country:
        return None
    try:
        currencies = get_territory_currencies(country.upper(), tender=True)
    except (KeyError, ValueError):
        return None
    return next((code for code in currencies if code in offered), None)


def currency_for_accept_language(header: str, offered: tuple[str, ...] | list[str]) -> str | None:
    """The offered currency of the first region in a browser's languages ("en-GB,en;q=0.8" ->
    "GBP"); None when no listed language names a region with an offered currency."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().replace("_", "-")
        _lang, _sep, region = tag.partition("-")
        if len(region) == 2 and region.isalpha():
            found = currency_for_country(region, offered)
            if found:
                return found
    return None
