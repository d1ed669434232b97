"""The one validator for names and addresses, shared by sign-up, the profile and the admin."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Line and paragraph separators break a line as CR/LF do; the bidirectional overrides and
# isolates turn the text around on the invoice ("Trojan source").
REFUSED_CATEGORIES = {"Cc", "Zl", "Zp"}
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def single_line(value: str) -> None:
    """Names and addresses go on invoices and into e-mail headers: one line, no control
    characters (a line break in a header makes sending fail). NUL bytes are refused by
    Django's own validator, with its own message."""
    if any(
        (unicodedata.category(c) in REFUSED_CATEGORIES and c != "\x00") or c in BIDI_CONTROLS
        for c in value
    ):
        raise ValidationError(
            _("Enter a single line of text, without line breaks or control characters."),
            code="control_characters",
        )
