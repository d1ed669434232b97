"""Scrubbing a deleted customer's personal values out of rows that stay.

Two sets of strings: *locators* (e-mail address, Stripe ids) find rows anywhere, including
third-party tables (dj-stripe's event payloads, the admin log); *erasables* (e-mail, name,
company, address, any other free-text profile field) are what is removed from those rows.
Matching respects word boundaries, so another customer's "jo@x.com" inside "bojo@x.com" is
left alone.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

REPLACEMENT = "[deleted]"
MIN_NEEDLE_LENGTH = 3
# Profile fields that are not personal on their own (and have choices).
USER_FIELDS_KEPT = ("password", "email", "language", "time_zone", "country")
# Keys whose values are personal in any JSON document we keep (audit event details).
PERSONAL_KEYS = frozenset(
    {
        "email",
        "old_email",
        "new_email",
        "previous_email",
        "name",
        "full_name",
        "company",
        "address",
        "address_line1",
        "address_line2",
        "postal_code",
        "city",
        "phone",
        "ip",
        "ip_address",
        "user_agent",
        "last4",
        "card_last4",
        "fingerprint",
        "card_fingerprint",
        "reason",
        "details",
        "message",
        "body",
        "comment",
        "note",
    }
)
# In kept JSON documents of the customer's own rows, a string survives only if it looks like
# a code, a number or a date ("pro", "2026-000042", "2026-11-16T10:00:00+00:00"): free text
# (which may hold anything the customer wrote) does not.
CODE_LIKE = re.compile(r"[\w.:+/-]{0,64}")
# In the customer's own rows, text fields this long (or longer) hold free text: subjects,
# reasons, messages. They are emptied whole.
FREE_TEXT_MIN_LENGTH = 200


def user_text_fields(user_model: type[models.Model]) -> list[models.Field]:
    """The user's free-text profile fields: blanked on deletion, and erasables elsewhere."""
    return [
        f
        for f in user_model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField)
        and f.blank
        and not f.choices
        and f.name not in USER_FIELDS_KEPT
    ]


@dataclass(frozen=True)
class Needles:
    locators: tuple[str, ...]
    erasables: tuple[str, ...]

    @property
    def pattern(self) -> re.Pattern[str]:
        values = sorted({v for v in self.erasables if len(v) >= MIN_NEEDLE_LENGTH}, key=len)
        if not values:
            return re.compile(r"(?!)")  # matches nothing
        alternatives = "|".join(re.escape(v) for v in reversed(values))
        return re.compile(rf"(?<![\w.+-])(?:{alternatives})(?![\w-]|\.\w)", re.IGNORECASE)


def needles_for(user: Any, *, stripe_ids: Iterable[str]) -> Needles:
    email = str(user.email)
    profile = [str(getattr(user, f.attname) or "").strip() for f in user_text_fields(type(user))]
    locators = [v for v in (email, *stripe_ids) if len(v) >= MIN_NEEDLE_LENGTH]
    return Needles(tuple(locators), tuple(v for v in (email, *profile) if v))


def scrub_text(value: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(REPLACEMENT, value)


def scrub_json(value: Any, pattern: re.Pattern[str], *, strict: bool) -> Any:
    """Personal strings replaced; with `strict`, personal keys and free text too."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            new_key = scrub_text(str(key), pattern)
            if strict and str(key).lower() in PERSONAL_KEYS and item not in (None, "", [], {}):
                result[new_key] = REPLACEMENT
            else:
                result[new_key] = scrub_json(item, pattern, strict=strict)
        return result
    if isinstance(value, list):
        return [scrub_json(item, pattern, strict=strict) for item in value]
    if isinstance(value, str):
        if strict and not CODE_LIKE.fullmatch(value):
            return REPLACEMENT
        return scrub_text(value, pattern)
    return value


def scrubbable_fields(model: type[models.Model]) -> list[models.Field]:
    """Text and JSON fields that may hold personal values; keys, ids and codes are not."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
        and not f.primary_key
        and not f.unique
        and not f.choices
    ]


def rows_mentioning(model: type[models.Model], locators: Iterable[str]) -> QuerySet[Any] | None:
    """Rows of any table whose text mentions one of the locators (a first, coarse filter in
    the database; `scrub_row` then matches exactly)."""
    fields = scrubbable_fields(model)
    terms: set[str] = set()
    for locator in locators:
        terms.add(locator)
        terms.add(json.dumps(locator)[1:-1])  # as stored inside JSON text
    if not fields or not terms:
        return None
    condition = reduce(or_, (Q(**{f"{f.name}__icontains": t}) for f in fields for t in terms))
    return model._default_manager.filter(condition)


def scrub_row(
    obj: models.Model,
    pattern: re.Pattern[str],
    *,
    free_text: bool,
) -> dict[str, Any]:
    """The changed values of one row. With `free_text` (the customer's own rows), free text
    is emptied whole and JSON documents keep only codes, numbers and dates."""
    changes: dict[str, Any] = {}
    for field in scrubbable_fields(type(obj)):
        value = getattr(obj, field.attname)
        if value in (None, "", [], {}):
            continue
        if isinstance(field, models.JSONField):
            new = scrub_json(value, pattern, strict=free_text)
        elif free_text and (
            isinstance(field, models.TextField) or (field.max_length or 0) >= FREE_TEXT_MIN_LENGTH
        ):
            new = ""
        else:
            new = scrub_text(str(value), pattern)
            if field.max_length and len(new) > field.max_length:
                new = ""
        if new != value:
            changes[field.attname] = new
    return changes
