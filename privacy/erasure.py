"""Scrubbing a deleted customer's personal values out of rows that stay.

Two sets of strings: *locators* (e-mail address, Stripe ids) find rows anywhere, including
third-party tables (dj-stripe's event payloads, the admin log); *erasables* (e-mail, name,
company, address, any other free-text profile field) are what is removed from those rows.
Matching respects word boundaries, so another customer's "jo@x.com" inside "bojo@x.com" is
left alone.
"""

import hashlib
import ipaddress
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
# The pattern of no value: a row scrubbed after the deletion knows no name any more.
NOTHING = re.compile(r"(?!)")
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
        "description",
        "line1",
        "line2",
        "state",
        "receipt_email",
        "shipping",
        "remote_ip",
        "client_ip",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "billing_details",
    }
)
# In kept JSON documents of the customer's own rows, a string survives only if it looks like
# a code, a number or a date ("pro", "2026-000042", "2026-11-16T10:00:00+00:00"): free text
# (which may hold anything the customer wrote) does not.
CODE_LIKE = re.compile(r"[\w.:+/-]{0,64}")
# An address kept in a required IP column once the real one is erased.
NO_IP = "0.0.0.0"  # noqa: S104  a value stored, not an address bound


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
            return NOTHING
        alternatives = "|".join(re.escape(v) for v in reversed(values))
        return re.compile(rf"(?<![\w.+-])(?:{alternatives})(?![\w-]|\.\w)", re.IGNORECASE)


def needles_for(user: Any, *, stripe_ids: Iterable[str]) -> Needles:
    email = str(user.email)
    profile = [str(getattr(user, f.attname) or "").strip() for f in user_text_fields(type(user))]
    locators = [v for v in (email, *stripe_ids) if len(v) >= MIN_NEEDLE_LENGTH]
    return Needles(tuple(locators), tuple(v for v in (email, *profile) if v))


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# Stripe object ids ("cus_", "pm_", "pi_", "ch_", "seti_", "re_", ...) inside any text.
STRIPE_ID = re.compile(r"\b[a-z]{2,6}_[A-Za-z0-9]{8,}\b")


def stripe_id_digest(stripe_id: str) -> str:
    """How a deleted account's Stripe id is remembered: its SHA-256, never the id."""
    return hashlib.sha256(f"erased-stripe-id:{stripe_id}".encode()).hexdigest()


def stripe_ids_in(obj: models.Model) -> set[str]:
    """The Stripe ids a row mentions, in any of its text and JSON columns (and its own id)."""
    found: set[str] = set()
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if value in (None, "", [], {}):
            continue
        if isinstance(field, models.JSONField):
            text = json.dumps(value)
        elif isinstance(field, models.CharField | models.TextField):
            text = str(value)
        else:
            continue
        found.update(STRIPE_ID.findall(text))
    return found


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
        if strict and (not CODE_LIKE.fullmatch(value) or is_ip(value)):
            return REPLACEMENT
        return scrub_text(value, pattern)
    return value


def _json_text(value: str) -> Any:
    """A text column holding a JSON document (a webhook's body, the admin log's change
    message), or None."""
    if not value.lstrip().startswith(("{", "[")):
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    return document if isinstance(document, dict | list) else None


def scrubbable_fields(model: type[models.Model]) -> list[models.Field]:
    """Text, JSON and IP fields that may hold personal values; keys, ids and codes are not."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(
            f,
            models.CharField | models.TextField | models.JSONField | models.GenericIPAddressField,
        )
        and not f.primary_key
        and not f.unique
        and not f.choices
    ]


def rows_mentioning(model: type[models.Model], locators: Iterable[str]) -> QuerySet[Any] | None:
    """Rows of any table whose text mentions one of the locators (a first, coarse filter in
    the database; `scrub_row` then matches exactly)."""
    fields = [
        f for f in scrubbable_fields(model) if not isinstance(f, models.GenericIPAddressField)
    ]
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
    """The changed values of one row. With `free_text` (the customer's own rows, and the rows
    of installed packages that mention them: Stripe mirrors and events, webhook bodies, the
    admin log), free text is emptied whole, IP addresses are erased, and JSON documents (in a
    JSON column or in a text column) keep only codes, numbers and dates."""
    changes: dict[str, Any] = {}
    for field in scrubbable_fields(type(obj)):
        value = getattr(obj, field.attname)
        if value in (None, "", [], {}):
            continue
        if isinstance(field, models.GenericIPAddressField):
            if not free_text:
                continue
            new = None if field.null else NO_IP
        elif isinstance(field, models.JSONField):
            new = scrub_json(value, pattern, strict=free_text)
        elif free_text and (document := _json_text(str(value))) is not None:
            new = json.dumps(scrub_json(document, pattern, strict=True), ensure_ascii=False)
        elif free_text and (
            isinstance(field, models.TextField)
            or field.name.lower() in PERSONAL_KEYS
            or not CODE_LIKE.fullmatch(str(value))
            or is_ip(str(value))
        ):
            new = ""  # free text, or a personal value: a code, a status, an id stays
        else:
            new = scrub_text(str(value), pattern)
            if field.max_length and len(new) > field.max_length:
                new = ""
        if new != value:
            changes[field.attname] = new
    return changes
