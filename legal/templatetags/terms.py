import re
from datetime import date

from babel.dates import format_date
from django import template
from django.utils import translation
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from subscriptions.money import babel_locale

register = template.Library()


@register.filter
def long_date(value: date | None) -> str:
    """A calendar date, long, in the active language: "26 mai 2025" / "May 26, 2025"."""
    if value is None:
        return ""
    return str(format_date(value, "long", locale=babel_locale(translation.get_language() or "fr")))


HEADING = re.compile(r"^\d+\.\s+\S")


@register.filter
def paragraphs(text: str | None) -> SafeString:
    """Plain-text terms as HTML: blank lines separate paragraphs; a one-line paragraph that
    starts with a number ("3. Billing and renewal") is a heading. Everything is escaped."""
    parts = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if len(lines) == 1 and HEADING.match(lines[0]):
            parts.append(format_html("<h2>{}</h2>", lines[0]))
        else:
            parts.append(format_html("<p>{}</p>", mark_safe("<br>".join(map(escape, lines)))))  # noqa: S308
    return mark_safe("\n".join(parts))  # noqa: S308
