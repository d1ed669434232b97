"""The customer's data (001): export it all, or delete the account.

Exports are built by a task into a private zip (data.json and one CSV per table) that only
the owner can download, for EXPORT_LIFETIME. Deleting an account ends its subscriptions
(with the refund the rules give), deletes the Stripe customer, and erases or anonymises
every personal value; invoices stay, stripped of the buyer (legal retention).
"""

import json
import logging
import os
import re
import secrets
import tempfile
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from allauth.account.models import EmailAddress
from celery import current_app
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.files import File
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from djstripe.models import PaymentMethod as StripePaymentMethod

from accounts.models import User
from legal.models import TermsAcceptance
from portal.locks import lock_pk
from privacy import erasure, inventory, spreadsheet
from privacy.models import PENDING_STATUSES, DataExport, ErasedStripeId, ExportStatus
from subscriptions import emails
from subscriptions.gateways import stripe as gateway
from subscriptions.models import (
    AccountingExport,
    AccountingExportStatus,
    BillingAccount,
    CreditNote,
    Invoice,
    PaymentAttempt,
)
from subscriptions.services import account_closure as closure
from subscriptions.services.auditing import audit

logger = logging.getLogger(__name__)

EXPORT_LIFETIME = timedelta(days=7)
# A pending export older than this lost its worker: it no longer blocks a new one.
EXPORT_STALE_AFTER = timedelta(hours=1)
# French commercial code, art. L123-22: accounting documents are kept for 10 years.
INVOICE_RETENTION_YEARS = 10
# Kept as issued (legal retention): only the buyer is replaced, explicitly.
RETAINED_MODELS = (
    "subscriptions.invoice",
    "subscriptions.invoiceline",
    "subscriptions.creditnote",
    "subscriptions.creditnoteline",
)


class PrivacyError(Exception):
    """A rule said no; the message is shown as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- export ----------------------------------------------------------------------------------


def export_request(*, user: User, now: datetime) -> DataExport:
    """Start an export; one at a time per customer. Works whatever the subscription's state
    (trial, expired trial, cancelled, suspended): 001."""
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        pending = DataExport.objects.filter(user=user, status__in=PENDING_STATUSES)
        pending.filter(created_at__lt=now - EXPORT_STALE_AFTER).update(
            status=ExportStatus.FAILED, finished_at=now
        )
        if pending.exists():
            raise PrivacyError(_("Your export is already being prepared."))
        try:
            with transaction.atomic():
                export = DataExport.objects.create(
                    user=user, token=secrets.token_urlsafe(32), created_at=now
                )
        except IntegrityError as exc:  # the other tab won
            raise PrivacyError(_("Your export is already being prepared.")) from exc
        audit(user=user, kind="data_export_requested", export=export.pk)
        transaction.on_commit(
            lambda: current_app.tasks["privacy.tasks.export_build"].delay(export.pk)
        )
    return export


def export_build(*, export: DataExport, now: datetime) -> DataExport:
    """Write the zip, updating `progress` as each table is done; e-mail the private link.
    Safe to run twice: a finished export is left as it is."""
    with transaction.atomic():
        locked = lock_pk(DataExport, export.pk)
        exp = (
            DataExport.objects.select_related("user").filter(pk=export.pk).first()
            if locked
            else None
        )
        if exp is None or exp.status not in PENDING_STATUSES:
            return exp or export
        exp.status = ExportStatus.RUNNING
        exp.started_at = now
        exp.progress = 0
        exp.save(update_fields=["status", "started_at", "progress"])
    user = exp.user
    try:
        with tempfile.TemporaryFile() as archive:
            _zip_write(archive, user=user, now=now, progress=_progress_saver(exp))
            size = archive.tell()
            archive.seek(0)
            name = exp.file.storage.save(f"{user.pk}/{exp.token}.zip", File(archive))
    except Exception:
        logger.exception("data export %s failed", exp.pk)
        DataExport.objects.filter(pk=exp.pk).update(status=ExportStatus.FAILED, finished_at=now)
        return DataExport.objects.filter(pk=exp.pk).first() or exp
    with transaction.atomic():
        found = DataExport.objects.select_for_update().filter(pk=exp.pk).first()
        if found is None:  # the account was deleted meanwhile
            exp.file.storage.delete(name)
            return exp
        exp = found
        exp.file.name = name
        exp.size = size
        exp.status = ExportStatus.READY
        exp.progress = 100
        exp.finished_at = now
        exp.expires_at = now + EXPORT_LIFETIME
        exp.save(update_fields=["file", "size", "status", "progress", "finished_at", "expires_at"])
        audit(user=user, kind="data_export_ready", export=exp.pk)
        emails.email_user(user, "export_ready", {"export": exp})
    return exp


def _progress_saver(export: DataExport) -> Callable[[int], None]:
    def save(percent: int) -> None:
        DataExport.objects.filter(pk=export.pk).update(progress=percent)

    return save


def _zip_write(archive: Any, *, user: User, now: datetime, progress: Callable[[int], None]) -> None:
    tables = inventory.export_tables()
    document: dict[str, Any] = {
        "exported_at": now.isoformat(),
        "customer": user.pk,
        "tables": {},
    }
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for done, table in enumerate(tables, start=1):
            rows = [(obj, _row(zf, table, obj)) for obj in table.rows(user)]
            document["tables"][table.name] = [row for _obj, row in rows]
            zf.writestr(f"{table.name}.csv", spreadsheet.table_csv(table, rows))
            # The last percents are for data.json and saving the file.
            progress(done * 95 // len(tables))
        zf.writestr("data.json", json.dumps(document, ensure_ascii=False, indent=2))
    progress(99)


def _row(zf: zipfile.ZipFile, table: inventory.Table, obj: models.Model) -> dict[str, Any]:
    row = {}
    for field in table.fields:
        value = getattr(obj, field.attname)
        if isinstance(field, models.FileField):
            value = _file_add(zf, table, obj, value)
        row[field.attname] = inventory.plain(value)
    return row


def _file_add(zf: zipfile.ZipFile, table: inventory.Table, obj: models.Model, file: Any) -> str:
    """An attached file goes into the zip; the row names it there."""
    if not file:
        return ""
    arcname = f"files/{table.name}/{obj.pk}/{os.path.basename(file.name)}"
    try:
        with file.open("rb") as source, zf.open(arcname, "w") as target:
            for chunk in iter(lambda: source.read(1 << 16), b""):
                target.write(chunk)
    except OSError:
        logger.warning("file of %s %s is missing from the export", table.name, obj.pk)
        return ""
    return arcname


def exports_expire(*, now: datetime) -> int:
    """Past their date, archives are deleted; the rows stay as "expired" for the history."""
    count = 0
    for export in DataExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now):
        _export_file_delete(export)
        export.status = ExportStatus.EXPIRED
        export.save(update_fields=["status", "file"])
        count += 1
    return count


def _accounting_exports_delete() -> None:
    """The accountant's zips copy invoices as they were, buyer included: they go, and staff
    export again from the kept (pseudonymised) documents."""
    for export in AccountingExport.objects.exclude(file=""):
        export.file.delete(save=False)
        AccountingExport.objects.filter(pk=export.pk).update(
            file="", status=AccountingExportStatus.FAILED
        )


def _export_file_delete(export: DataExport) -> None:
    if export.file:
        export.file.delete(save=False)


# --- account deletion ------------------------------------------------------------------------


def deleted_email(user: User) -> str:
    return f"deleted-{user.pk}@invalid.example"


def account_closure_preview(*, user: User, now: datetime) -> list[Any]:
    """What ending the subscriptions now refunds (shown before the customer confirms)."""
    return list(closure.account_closure_preview(user=user, now=now))


def account_delete(*, user: User, actor: User | None, now: datetime) -> bool:
    """Delete a customer's account (001), in this order: subscriptions end now with their
    refund; the Stripe customer is deleted (retried later by a task if Stripe fails); every
    personal value is erased; a confirmation goes to the address it had; an audit event.

    Invoices stay (legal retention) with their numbers and amounts, without the buyer.
    Returns False if the account was already deleted.
    """
    if user.is_staff or user.is_superuser:
        raise PrivacyError(_("Staff accounts are not deleted this way."))
    if user.email == deleted_email(user):
        return False
    refunds = account_closure_preview(user=user, now=now)
    closure.account_closure(user=user, now=now, actor=actor)

    billing = BillingAccount.objects.filter(user=user).first()
    stripe_ids = [billing.stripe_customer_id, billing.payment_method_id] if billing else []
    customer_id = billing.stripe_customer_id if billing else ""
    stripe_deleted = stripe_customer_delete(customer_id=customer_id) if customer_id else True

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.email == deleted_email(user):
            return False
        # Rendered now, in the customer's language, to the address it had; sent after commit.
        message = emails.render(
            "account_deleted",
            {
                "user": user,
                "refunds": refunds,
                "deleted_at": now,
                "retention_years": INVOICE_RETENTION_YEARS,
                "support_email": settings.SUPPORT_EMAIL,
            },
            language=user.language,
            tz=user.time_zone,
        )
        to = user.email
        locators = _erase(user, stripe_ids=[i for i in stripe_ids if i])
        audit(
            user=user,
            actor=actor,
            kind="account_deleted",
            by_staff=actor is not None and actor.pk != user.pk,
            refunds=len(refunds),
            stripe_customer_deleted=stripe_deleted,
        )
        transaction.on_commit(lambda: emails.email_send_queue(to=to, message=message))
        if not stripe_deleted:
            transaction.on_commit(lambda: _stripe_customer_delete_later(customer_id))
        # A Stripe event stored by another request while this one ran did not see the
        # digests yet: the Stripe tables are read once more when they are visible.
        transaction.on_commit(lambda: _stripe_rows_rescan(locators))
    logger.info("deleted the account of customer %s", user.pk)
    return True


def _stripe_customer_delete_later(customer_id: str) -> None:
    current_app.tasks["privacy.tasks.stripe_customer_delete"].apply_async(
        kwargs={"customer_id": customer_id}, countdown=300
    )


def stripe_customer_delete(*, customer_id: str) -> bool:
    """Delete the Stripe customer; False (logged) if Stripe cannot be reached."""
    try:
        gateway.customer_delete(customer_id)
    except gateway.GatewayError:
        logger.warning("Stripe customer %s was not deleted: will retry", customer_id)
        return False
    return True


def _erase(user: User, *, stripe_ids: list[str]) -> tuple[str, ...]:
    """Every personal value of the customer, wherever it is: the named places first, then
    every row of this project's tables that belongs to the customer, then every row of any
    table that still mentions their e-mail address or Stripe ids. The Stripe ids are
    remembered as digests, for the events Stripe sends after the deletion. Returns the
    values that located the rows (e-mail address, Stripe ids)."""
    stripe_ids = _stripe_ids_remember(user, stripe_ids)
    needles = erasure.needles_for(user, stripe_ids=stripe_ids)
    logged = _admin_log_targets(user)
    _user_anonymise(user)
    EmailAddress.objects.filter(user=user).delete()
    # Which terms the customer accepted, and when, goes with the account (issue 17).
    TermsAcceptance.objects.filter(user=user).delete()
    _mfa_delete(user)
    _sessions_delete(user)
    # The HTML of list rows kept in memory: this process's now, the others' within their
    # 10 minutes (settings.CACHES["rows"]).
    caches["rows"].clear()
    _accounting_exports_delete()
    BillingAccount.objects.filter(user=user).update(
        stripe_customer_id="",
        payment_method_id="",
        card_brand="",
        card_last4="",
        card_exp_month=None,
        card_exp_year=None,
        card_fingerprint="",
    )
    Invoice.objects.filter(user=user).update(buyer=invoice_buyer_pseudonym(user))
    CreditNote.objects.filter(user=user).update(buyer=invoice_buyer_pseudonym(user))
    PaymentAttempt.objects.filter(invoice__user=user).update(client_secret="")
    pattern = needles.pattern
    done: set[tuple[str, Any]] = set()
    for model in inventory.project_models():
        if model is User:
            continue
        queryset = inventory.owned(model, user)
        if queryset is None:
            continue
        if inventory.label(model) in RETAINED_MODELS:
            # As issued, but no name or address of the buyer anywhere else in them.
            _rows_scrub(model, queryset, pattern, done, free_text=False)
        else:
            _owned_rows_erase(model, queryset, pattern, done)
    _admin_log_scrub(logged, pattern, done)
    _mentions_erase(needles, done)
    return needles.locators


def _mentions_erase(needles: erasure.Needles, done: set[tuple[str, Any]]) -> None:
    """Rows of any table that mention the customer's e-mail address or Stripe ids."""
    for model in apps.get_models():
        if model is User:
            continue
        rows = erasure.rows_mentioning(model, needles.locators)
        if rows is None:
            continue
        if model is Session:
            rows.delete()  # a session that names the customer is theirs
            continue
        # Installed packages' rows (Stripe mirrors and events, webhook bodies, the admin
        # log) that mention the customer are about the customer: scrubbed whole. Another
        # customer's rows of this project only lose the deleted customer's values.
        free_text = not _is_project_model(model)
        _rows_scrub(model, rows, needles.pattern, done, free_text=free_text)


def account_traces_erase(*, user: User) -> None:
    """A customer's row is about to be deleted outright (an expired trial's purge, staff in
    the admin): their own rows go with it, but not what other tables hold about them. Those
    are erased as for a deletion from the portal, in the same transaction."""
    if user.email == deleted_email(user):
        return  # erased already; the shell holds nothing
    billing = BillingAccount.objects.filter(user=user).first()
    known = [billing.stripe_customer_id, billing.payment_method_id] if billing else []
    stripe_ids = _stripe_ids_remember(user, [i for i in known if i])
    needles = erasure.needles_for(user, stripe_ids=stripe_ids)
    done: set[tuple[str, Any]] = set()
    _admin_log_scrub(_admin_log_targets(user), needles.pattern, done)
    _sessions_delete(user)
    _mentions_erase(needles, done)
    locators = needles.locators
    transaction.on_commit(lambda: _stripe_rows_rescan(locators))


def _stripe_rows_rescan(locators: tuple[str, ...]) -> None:
    for model in apps.get_app_config("djstripe").get_models():
        rows = erasure.rows_mentioning(model, locators)
        if rows is not None:
            with transaction.atomic():
                _rows_scrub(model, rows, erasure.NOTHING, set(), free_text=True)


def _is_project_model(model: type[models.Model]) -> bool:
    return inventory.is_project_app(model._meta.app_config)


def invoice_buyer_pseudonym(user: User) -> dict[str, Any]:
    """What a kept invoice says of a deleted buyer: a pseudonym, and the country that
    decided its tax (legal retention)."""
    return {"deleted": True, "pseudonym": f"C-{user.pk:06d}", "country": user.country}


def _stripe_ids_remember(user: User, stripe_ids: list[str]) -> list[str]:
    """Digests of every Stripe id the account had: its customer and cards, and the payments,
    charges and refunds of its invoices (the ids on the kept invoices stay as they are)."""
    ids = set(stripe_ids)
    attempts = PaymentAttempt.objects.filter(invoice__user=user)
    ids.update(attempts.values_list("payment_intent_id", flat=True))
    ids.update(attempts.values_list("payment_method_id", flat=True))
    for charge, intent in Invoice.objects.filter(user=user).values_list(
        "stripe_charge_id", "stripe_payment_intent_id"
    ):
        ids.update((charge, intent))
    refunds = apps.get_model("subscriptions", "RefundRequest")
    ids.update(refunds.objects.filter(user=user).values_list("stripe_refund_id", flat=True))
    customers = [i for i in ids if i.startswith("cus_")]
    if customers:  # every card the customer ever had, as dj-stripe mirrored it
        ids.update(
            StripePaymentMethod.objects.filter(customer_id__in=customers).values_list(
                "id", flat=True
            )
        )
    ids = {i for i in ids if i}
    ErasedStripeId.objects.bulk_create(
        [ErasedStripeId(digest=erasure.stripe_id_digest(i)) for i in sorted(ids)],
        ignore_conflicts=True,
    )
    return sorted(ids)


def stripe_row_scrub(*, obj: models.Model) -> bool:
    """A row of dj-stripe just saved (a webhook's body, an event, a mirrored object): if it
    mentions a deleted account's Stripe id, its personal values are erased at once. This is
    how `customer.deleted` or `payment_method.detached`, sent by Stripe after the deletion,
    are stored without the e-mail, name or address they carry. Returns whether it did."""
    ids = erasure.stripe_ids_in(obj)
    if not ids:
        return False
    digests = [erasure.stripe_id_digest(i) for i in ids]
    if not ErasedStripeId.objects.filter(digest__in=digests).exists():
        return False
    changes = erasure.scrub_row(obj, erasure.NOTHING, free_text=True)
    if changes:
        # update(), not save(): the row in the database changes, the object being processed
        # (the event in dj-stripe's hands) does not, and no signal fires again.
        type(obj)._default_manager.filter(pk=obj.pk).update(**changes)
    return True


def _admin_log_targets(user: User) -> dict[int, set[str]]:
    """The customer's rows the admin log may name ("#23 Facture de <name>"), by content
    type: read before the rows are erased or deleted."""
    targets: dict[int, set[str]] = {}
    models_: list[type[models.Model]] = [User, *inventory.project_models()]
    for model in models_:
        queryset = inventory.owned(model, user)
        if queryset is None:
            continue
        pks = {str(pk) for pk in queryset.values_list("pk", flat=True)}
        if pks:
            content_type = ContentType.objects.get_for_model(model)
            targets.setdefault(content_type.pk, set()).update(pks)
    return targets


def _admin_log_scrub(
    targets: dict[int, set[str]], pattern: re.Pattern[str], done: set[tuple[str, Any]]
) -> None:
    for content_type_id, pks in targets.items():
        entries = LogEntry.objects.filter(content_type_id=content_type_id, object_id__in=pks)
        _rows_scrub(LogEntry, entries, pattern, done, free_text=True)


def _user_anonymise(user: User) -> None:
    fields = erasure.user_text_fields(User)
    for field in fields:
        setattr(user, field.attname, "")
    user.email = deleted_email(user)
    user.set_unusable_password()
    user.is_active = False
    user.save(update_fields=[f.attname for f in fields] + ["email", "password", "is_active"])


def _mfa_delete(user: User) -> None:
    try:
        authenticator = apps.get_model("mfa", "Authenticator")
    except LookupError:
        return
    authenticator._default_manager.filter(user=user).delete()


def _sessions_delete(user: User) -> None:
    """The customer's sessions, on every device. Without a database-backed session engine
    they cannot be listed: they die anyway (inactive user, changed password hash)."""
    if settings.SESSION_ENGINE not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        return
    store = import_module(settings.SESSION_ENGINE).SessionStore
    pk = str(user.pk)
    for session in Session.objects.iterator():
        if session.get_decoded().get("_auth_user_id") == pk:
            store(session_key=session.session_key).delete()


def _owned_rows_erase(
    model: type[models.Model],
    queryset: models.QuerySet[Any],
    pattern: re.Pattern[str],
    done: set[tuple[str, Any]],
) -> None:
    """The customer's own rows: attached files deleted (with the row, as for support
    attachments and exports, when nothing protects it), free text emptied."""
    file_fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    if file_fields:
        for obj in queryset:
            for field in file_fields:
                file = getattr(obj, field.attname)
                if file:
                    _on_commit_delete(file.storage, file.name)
            try:
                with transaction.atomic():
                    obj.delete()
            except ProtectedError:
                model._default_manager.filter(pk=obj.pk).update(
                    **{f.attname: "" for f in file_fields}
                )
        queryset = queryset.all()
    _rows_scrub(model, queryset, pattern, done, free_text=True)


def _on_commit_delete(storage: Any, name: str) -> None:
    transaction.on_commit(lambda: storage.delete(name))


def _rows_scrub(
    model: type[models.Model],
    queryset: models.QuerySet[Any],
    pattern: re.Pattern[str],
    done: set[tuple[str, Any]],
    *,
    free_text: bool,
) -> None:
    key = inventory.label(model)
    for obj in queryset.iterator(chunk_size=500):
        if (key, obj.pk) in done:
            continue
        done.add((key, obj.pk))
        changes = erasure.scrub_row(obj, pattern, free_text=free_text)
        if not changes:
            continue
        try:
            with transaction.atomic():
                # update(), not save(): no signals, no auto_now, no side effects elsewhere.
                model._default_manager.filter(pk=obj.pk).update(**changes)
        except IntegrityError:
            logger.warning("could not scrub %s %s", key, obj.pk)
