"""The accountant's export: every invoice and credit note issued between two dates, as
Factur-X PDFs plus a CSV journal, zipped by a task that reports its progress."""

import csv
import io
import logging
import tempfile
import zipfile
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from celery import current_app
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from subscriptions import invoices as documents
from subscriptions import money
from subscriptions.models import AccountingExport, AccountingExportStatus, CreditNote
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionError

logger = logging.getLogger(__name__)

BUILD_TASK = "subscriptions.tasks.accounting_export_build"
MAX_DAYS = 366
JOURNAL_COLUMNS = [
    "number",
    "type",
    "date",
    "customer",
    "customer_vat_number",
    "corrected_invoice",
    "total_before_tax",
    "vat",
    "total",
    "currency",
    "vat_rule",
    "status",
    # The VAT in euros, as declared (CGI art. 242 nonies A), and the rate the document kept.
    "vat_in_eur",
    "eur_rate",
]
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def accounting_export_request(
    *, actor: User, start: date | None, end: date | None, now: datetime
) -> AccountingExport:
    """Queue an export of [start, end] (the seller's calendar days, both included)."""
    if not actor.has_perm("subscriptions.view_invoice"):
        raise SubscriptionError(_("You are not allowed to export invoices."))
    if start is None or end is None:
        raise SubscriptionError(_("Please give both dates."))
    if end < start:
        raise SubscriptionError(_("The end date must not be before the start date."))
    if (end - start).days >= MAX_DAYS:
        raise SubscriptionError(
            _("Please export at most %(days)s days at a time.") % {"days": MAX_DAYS}
        )
    with transaction.atomic():
        export = AccountingExport.objects.create(
            requested_by=actor, start=start, end=end, created_at=now
        )
        audit(
            user=None,
            actor=actor,
            kind="accounting_export_requested",
            start=start.isoformat(),
            end=end.isoformat(),
        )
        transaction.on_commit(lambda: current_app.tasks[BUILD_TASK].delay(export.pk))
    return export


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(settings.TIME_ZONE)
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def accounting_export_build(*, export: AccountingExport, now: datetime) -> AccountingExport:
    """Write the zip, saving the progress after each document. Safe to run twice."""
    with transaction.atomic():
        exp = AccountingExport.objects.select_for_update().filter(pk=export.pk).first()
        if exp is None or not exp.is_pending:
            return exp or export
        exp.status = AccountingExportStatus.RUNNING
        exp.progress = 0
        exp.save(update_fields=["status", "progress"])
    try:
        invoices, notes = documents.issued_between(*period_bounds(exp.start, exp.end))
        items: list[documents.Document] = [*invoices, *notes]
        journal = io.StringIO()
        journal.write("\ufeff")  # spreadsheets then read accents right
        writer = csv.writer(journal)
        writer.writerow(JOURNAL_COLUMNS)
        with tempfile.TemporaryFile() as archive:
            with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for done, document in enumerate(items, start=1):
                    folder = "credit-notes" if document.is_credit_note else "invoices"
                    zf.writestr(
                        f"{folder}/{documents.invoice_pdf_filename(document)}",
                        documents.document_pdf(document),
                    )
                    writer.writerow(journal_row(document))
                    percent = done * 95 // len(items)
                    AccountingExport.objects.filter(pk=exp.pk).update(progress=percent)
                zf.writestr("journal.csv", journal.getvalue())
            archive.seek(0)
            name = exp.file.storage.save(f"{exp.pk}/{exp.download_name}", File(archive))
    except Exception:
        logger.exception("accounting export %s failed", exp.pk)
        AccountingExport.objects.filter(pk=exp.pk).update(
            status=AccountingExportStatus.FAILED, finished_at=now
        )
        return AccountingExport.objects.get(pk=exp.pk)
    exp.file.name = name
    exp.status = AccountingExportStatus.READY
    exp.progress = 100
    exp.documents = len(items)
    exp.finished_at = now
    exp.save(update_fields=["file", "status", "progress", "documents", "finished_at"])
    return exp


def journal_row(document: documents.Document) -> list[str]:
    """One line of the journal; a credit note's amounts are negative (it takes back)."""
    sign = -1 if document.is_credit_note else 1
    buyer = document.buyer
    customer = buyer.get("company") or buyer.get("name") or ""

    def amount(minor: int) -> str:
        return str(money.to_major_units(sign * minor, document.currency))

    if isinstance(document, CreditNote):
        kind, corrected = "credit_note", document.invoice.number
        status = "refunded" if document.refunded_at else "credited"
    else:
        kind, corrected, status = "invoice", "", document.status
    return [
        document.number,
        kind,
        documents.facturx.local_date(document.issued_at).isoformat(),
        _text_cell(customer),
        _text_cell(str(buyer.get("vat_number") or "")),
        corrected,
        amount(document.subtotal),
        amount(document.tax),
        amount(document.total),
        document.currency,
        document.tax_regime,
        status,
        _vat_in_eur(document, sign),
        "" if document.eur_rate is None else str(document.eur_rate.normalize()),
    ]


def _vat_in_eur(document: documents.Document, sign: int) -> str:
    """A euro document's VAT as it is; another currency's as it kept it in euros (none
    without French VAT); empty for one issued before documents kept it."""
    if document.tax_eur is not None:
        return str(money.to_major_units(sign * document.tax_eur, "EUR"))
    if document.currency == "EUR" or document.tax == 0:
        return str(money.to_major_units(sign * document.tax, "EUR"))
    return ""


def _text_cell(value: str) -> str:
    """A customer-typed name never runs as a spreadsheet formula."""
    return f"'{value}" if value.startswith(FORMULA_START) else value
