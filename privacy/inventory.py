"""Where a customer's data lives: the tables an export reads and an erasure scrubs.

Models are found generically (every concrete model with a foreign-key path to the customer),
so tables added later (support tickets, terms seen, refund requests) are covered without a
change here. Secrets never leave: password hashes, Stripe client secrets, MFA secrets, tokens.
"""

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.utils import translation
from django.utils.text import slugify

# A foreign key to the customer with one of these names marks the row as theirs; other keys
# to a user (author, decided_by, actor) name someone else, often staff.
OWNER_FIELD_NAMES = ("user", "customer", "owner")
MAX_PATH_DEPTH = 3

SECRET_NAME = re.compile(r"password|secret|token|otp|recovery|api_key|private_key", re.IGNORECASE)
# Fields whose name does not say they are secret, but are: app_label.model -> field names.
SECRET_FIELDS = {"mfa.authenticator": {"data"}}

# Tables the export names itself, in this order (the rest are found and appended).
NAMED_TABLES = (
    ("profile", "accounts.User"),
    ("email_addresses", "account.EmailAddress"),
    ("two_factor_methods", "mfa.Authenticator"),
    ("billing_account", "subscriptions.BillingAccount"),
    ("subscriptions", "subscriptions.Subscription"),
    ("invoices", "subscriptions.Invoice"),
    ("invoice_lines", "subscriptions.InvoiceLine"),
    ("credit_notes", "subscriptions.CreditNote"),
    ("credit_note_lines", "subscriptions.CreditNoteLine"),
    ("payment_attempts", "subscriptions.PaymentAttempt"),
    ("refund_requests", "subscriptions.RefundRequest"),
    ("contract_change_requests", "subscriptions.ContractChangeRequest"),
    ("audit_events", "subscriptions.AuditEvent"),
)
# The privacy app's own rows (exports: tokens and archives) are not data about the customer.
NOT_EXPORTED_APPS = ("privacy",)


def label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _model(dotted: str) -> type[models.Model] | None:
    try:
        return apps.get_model(dotted)
    except LookupError:
        return None


def _user_model() -> type[models.Model]:
    return get_user_model()


def _foreign_keys(model: type[models.Model]) -> list[models.ForeignKey]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)]


def owner_path(model: type[models.Model], _depth: int = 0) -> str | None:
    """The lookup from `model` to its customer ("user", "ticket__user", ...), or None."""
    user_model = _user_model()
    if model is user_model:
        return "pk" if _depth == 0 else None
    keys = _foreign_keys(model)
    for field in keys:
        if field.related_model is user_model and field.name in OWNER_FIELD_NAMES:
            return field.name
    if _depth < MAX_PATH_DEPTH:
        for field in keys:
            related = field.related_model
            if related is user_model or related is model or not isinstance(related, type):
                continue
            path = owner_path(related, _depth + 1)
            if path is not None:
                return f"{field.name}__{path}"
    return None


def owned(model: type[models.Model], user: Any) -> QuerySet[Any] | None:
    path = owner_path(model)
    if path is None:
        return None
    value = user.pk if path == "pk" else user
    return model._default_manager.filter(**{path: value}).order_by("pk")


def is_project_app(app_config: Any) -> bool:
    """Apps of this repository, as opposed to Django's and installed packages'."""
    path = os.path.realpath(app_config.path)
    base = os.path.realpath(settings.BASE_DIR)
    return path.startswith(base + os.sep) and "site-packages" not in path


def project_models() -> list[type[models.Model]]:
    return [
        model
        for app_config in apps.get_app_configs()
        if is_project_app(app_config)
        for model in app_config.get_models()
        if not model._meta.proxy
    ]


def is_secret(model: type[models.Model], field: models.Field) -> bool:
    return bool(SECRET_NAME.search(field.name)) or field.name in SECRET_FIELDS.get(
        label(model), set()
    )


@dataclass(frozen=True)
class Table:
    name: str
    model: type[models.Model]

    @property
    def fields(self) -> list[models.Field]:
        return [f for f in self.model._meta.concrete_fields if not is_secret(self.model, f)]

    @property
    def columns(self) -> list[str]:
        return [f.attname for f in self.fields]

    def rows(self, user: Any) -> Iterable[models.Model]:
        queryset = owned(self.model, user)
        return [] if queryset is None else queryset.iterator(chunk_size=500)


def _table_name(model: type[models.Model]) -> str:
    with translation.override("en"):
        plural = str(model._meta.verbose_name_plural)
    return f"{model._meta.app_label}_{slugify(plural).replace('-', '_')}"


def export_tables() -> list[Table]:
    """Every table with rows belonging to a customer: the named ones first, then the others
    found in this project's apps (support tickets and messages, terms seen, ...)."""
    tables = []
    seen: set[type[models.Model]] = set()
    for name, dotted in NAMED_TABLES:
        model = _model(dotted)
        if model is not None and owner_path(model) is not None:
            tables.append(Table(name, model))
            seen.add(model)
    for model in project_models():
        if model in seen or model._meta.app_label in NOT_EXPORTED_APPS:
            continue
        if owner_path(model) is not None:
            tables.append(Table(_table_name(model), model))
            seen.add(model)
    return tables


def plain(value: Any) -> Any:
    """A field value as JSON can hold it."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
