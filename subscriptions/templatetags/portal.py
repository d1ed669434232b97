from datetime import datetime, timedelta

from babel import Locale
from babel.dates import format_date, format_datetime
from django import template
from django.utils import timezone, translation

from subscriptions import money as money_module

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
    local = timezone.localtime(moment)
    return str(format_date(local.date(), "long", locale=_locale()))


@register.filter
def moment(value: datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value)
    return str(format_datetime(local, "medium", locale=_locale()))


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
