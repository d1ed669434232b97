"""The export's CSV files, for people opening them in a spreadsheet (issue 17): one row per
object, amounts in major units next to their currency, no JSON in a cell (a nested value gets
columns of its own: "buyer.name", "data.total"), UTF-8 with a byte-order mark so that Excel
reads the accents. data.json keeps every value as stored, amounts in minor units."""

import csv
import io
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import translation

from privacy.inventory import Table
from subscriptions.money import to_major_units

# Keys of a JSON value (an audit event's details) that hold an amount in minor units.
AMOUNT_KEYS = frozenset(
    {
        "amount",
        "amount_due",
        "amount_refunded",
        "charged",
        "charged_if_approved_now",
        "credit",
        "credit_applied",
        "quoted_amount",
        "refunded",
        "subtotal",
        "tax",
        "total",
    }
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, OWASP):
# such text gets a leading apostrophe, which spreadsheets show as text. data.json keeps the
# text as it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_minor_units(field: models.Field) -> bool:
    with translation.override("en"):
        return isinstance(field, models.IntegerField) and "minor units" in str(field.verbose_name)


def _has_currency(model: Any) -> bool:
    return any(f.name == "currency" for f in model._meta.concrete_fields)


class CurrencyFinder:
    """The currency of a row: its own, else that of the object a foreign key names (an
    invoice line's invoice, an audit event's subscription), each looked up once."""

    def __init__(self) -> None:
        self.known: dict[tuple[Any, Any], str] = {}

    def __call__(self, obj: models.Model) -> str:
        own = getattr(obj, "currency", "")
        if isinstance(own, str) and own:
            return own
        for field in obj._meta.concrete_fields:
            related: Any = field.related_model
            if not isinstance(field, models.ForeignKey) or not _has_currency(related):
                continue
            pk = getattr(obj, field.attname)
            if pk is None:
                continue
            key = (related, pk)
            if key not in self.known:
                found = (
                    related._default_manager.filter(pk=pk)
                    .values_list("currency", flat=True)
                    .first()
                )
                self.known[key] = found or ""
            if self.known[key]:
                return self.known[key]
        return ""


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        for number, item in enumerate(value, start=1):
            _flatten(f"{prefix}.{number}", item, out)
    elif isinstance(value, list):
        out[prefix] = "; ".join(_cell(v) for v in value)
    else:
        out[prefix] = value


def _major(amount: Any, currency: str) -> Any:
    if isinstance(amount, int) and not isinstance(amount, bool) and currency:
        return to_major_units(amount, currency)
    return amount


def _flat_row(
    table: Table, row: dict[str, Any], currency: str, amounts: set[str]
) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for column in table.columns:
        value = row[column]
        if column in amounts:
            flat[column] = _major(value, currency)
        elif isinstance(value, dict | list):
            nested: dict[str, Any] = {}
            _flatten(column, value, nested)
            for key, item in nested.items():
                inner = str(nested.get(f"{key.rsplit('.', 1)[0]}.currency", "")) or currency
                leaf = key.rsplit(".", 1)[-1]
                flat[key] = _major(item, inner) if leaf in AMOUNT_KEYS else item
        else:
            flat[column] = value
    return flat


def table_csv(table: Table, rows: list[tuple[models.Model, dict[str, Any]]]) -> str:
    """One table's CSV: `rows` are (object, its data.json row)."""
    amounts = {f.attname for f in table.fields if is_minor_units(f)}
    add_currency = bool(amounts) and "currency" not in table.columns
    find_currency = CurrencyFinder()
    flat_rows = []
    for obj, row in rows:
        currency = find_currency(obj)
        flat = _flat_row(table, row, currency, amounts)
        if add_currency:
            flat["currency"] = currency
        flat_rows.append(flat)
    columns: list[str] = []
    for column in table.columns:
        if column in amounts or not any(isinstance(r[column], dict | list) for _o, r in rows):
            columns.append(column)
            if add_currency and column == max(amounts, key=table.columns.index):
                columns.append("currency")
            continue
        for flat in flat_rows:  # a nested value's columns, in the order they first appear
            columns += [
                k for k in flat if (k == column or k.startswith(f"{column}.")) and k not in columns
            ]
    if add_currency and "currency" not in columns:
        columns.append("currency")
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(columns)
    for flat in flat_rows:
        writer.writerow([_cell(flat.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)  # a number, negative ones included, stays a number
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
