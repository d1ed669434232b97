from datetime import datetime

from babel.dates import format_time
from babel.numbers import format_decimal
from django import template
from django.utils import timezone, translation
from django.utils.translation import gettext as _

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
