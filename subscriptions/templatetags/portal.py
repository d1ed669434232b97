import datetime as dt
from datetime import datetime, timedelta
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from django import template
from django.db.models import Model
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from subscriptions import money as money_module
from subscriptions import quotes, wording
from subscriptions.models import DECLINE_REASONS
from subscriptions.policy import RefundBreakdown, RefundQuote, ShownCharge

register = template.Library()


@register.filter
def money(amount: int | None, currency: str) -> str:
    """{{ invoice.total|money:invoice.currency }} -> "49,00 €" / "€49.00"."""
    if amount is None:
        return ""
    return money_module.format_money(int(amount), currency, translation.get_language() or "fr")


@register.filter
def day(moment: datetime | None) -> str:
    """A long date in the active time zone and language: "22 novembre 2026"."""
    if moment is None:
        return ""
    return _long_date(timezone.localtime(moment).date(), translation.get_language() or "fr")


@lru_cache(maxsize=4096)
def _long_date(date: dt.date, language: str) -> str:
    """Kept per process: a list shows the same few dates on many rows."""
    return str(format_date(date, "long", locale=money_module.locale(language)))


@register.filter
def row_key(obj: Model) -> str:
    """What one row of a list of `obj` may show, as the key of its HTML in the rows cache
    ({% cache 600 name obj|row_key using="rows" %}): every column read, the language and
    the time zone. A changed row has a new key, so it is never served stale. A row must show
    nothing else (no CSRF token, nothing of the request): pass any related object it shows
    as another key."""
    values = [obj.__dict__.get(field.attname) for field in obj._meta.concrete_fields]
    zone = timezone.get_current_timezone_name()
    return repr((obj._meta.label, values, translation.get_language(), zone))


@register.filter
def moment(value: datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value)
    return str(format_datetime(local, "medium", locale=_locale()))


@register.filter
def filesize(size: int | None) -> str:
    """A file size as people read it, in the active language: "1,2 Mo" / "1.2 MB"."""
    if size is None:
        return ""
    if size < 1024 * 1024:
        return _("%(size)s KB") % {
            "size": format_decimal(max(1, round(size / 1024)), locale=_locale())
        }
    return _("%(size)s MB") % {
        "size": format_decimal(round(size / 1024 / 1024, 1), locale=_locale())
    }


def _locale() -> Locale:
    return money_module.locale(translation.get_language() or "fr")


@register.filter
def last_day(deadline: datetime | None) -> str:
    """The last day before a deadline that falls at midnight: a window ending at 00:00 on
    2 June is shown as "by 1 June"."""
    if deadline is None:
        return ""
    return day(deadline - timedelta(microseconds=1))


@register.filter
def line_text(description: str) -> str:
    """An invoice line is stored in both languages, "English / Français" (the invoice is a
    legal record): shown in the language of the page, or of the PDF, the customer reads."""
    english, separator, french = description.partition(" / ")
    if not separator:
        return description
    return french if (translation.get_language() or "fr").startswith("fr") else english


@register.simple_tag
def card_messages() -> dict[str, object]:
    """What the card page says when Stripe.js refuses a card, in the page's language.

    Stripe.js words its errors in the browser's language, often English on a French page:
    card.js shows these instead, by the error's code.
    """
    return {
        "sentence": _("This card could not be saved: %(reason)s."),
        "reasons": {code: str(reason) for code, reason in DECLINE_REASONS.items()},
    }


@register.simple_tag
def charge_token(what: str, pk: int, amount: int | None, currency: str) -> str:
    """The signed charge a confirmation form carries: the amount its page shows, taken at
    once on confirming ("keep my subscription", paying an invoice)."""
    return quotes.charge_token(
        what=what,
        pk=pk,
        charge=ShownCharge(int(amount or 0), currency),
        quoted_at=timezone.now(),
    )


@register.simple_tag
def keep_charge_token(subscription: object, charge_back: RefundQuote | None) -> str:
    """ "Keep my subscription" charges again what was refunded on cancelling, or nothing."""
    pk = int(getattr(subscription, "pk", 0) or 0)
    currency = str(getattr(subscription, "currency", ""))
    return charge_token("keep", pk, charge_back.amount if charge_back else 0, currency)


@register.simple_tag
def refund_breakdown(breakdown: RefundBreakdown | None) -> str:
    """ "You paid 94,80 €: 79,00 € is refunded and 15,80 € is kept as VAT, ..." (002)."""
    if breakdown is None:
        return ""
    return wording.explain_breakdown(breakdown, translation.get_language() or "fr")
