from datetime import datetime

from babel.dates import format_time
from django import template
from django.utils import timezone, translation

from subscriptions.money import babel_locale

register = template.Library()


def _locale() -> str:
    return babel_locale(translation.get_language() or "fr")


@register.filter
def hour(moment: datetime | None) -> str:
    """The time of day in the active time zone and language: "14:30" / "2:30 PM"."""
    if moment is None:
        return ""
    return str(format_time(timezone.localtime(moment), "short", locale=_locale()))
