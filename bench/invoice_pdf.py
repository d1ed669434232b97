"""What one invoice PDF costs: its size and the median time to render it (HTML layout by
WeasyPrint as PDF/A-3b, the EN 16931 XML by drafthorse, embedded and XSD-checked by
factur-x). Goals: under 100 KB and under 1 s. On a scratch SQLite database. Run:

    .venv/bin/python bench/invoice_pdf.py            # 20 renders of an invoice and a credit note
    .venv/bin/python bench/invoice_pdf.py 50
"""

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_db = Path(tempfile.mkdtemp()) / "bench.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{_db}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from subscriptions.invoices import document_pdf  # noqa: E402
from subscriptions.models import (  # noqa: E402
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from subscriptions.services.credit_notes import credit_note_issue  # noqa: E402
from subscriptions.services.invoices import buyer_snapshot, seller_snapshot  # noqa: E402

ISSUED = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def sample_invoice() -> Invoice:
    user = User.objects.create_user(
        email="bench@example.com",
        password="bench-password-not-used",  # noqa: S106
        name="Camille Martin",
        company="Boulangerie Martin",
        address_line1="3 place du Marché",
        postal_code="69002",
        city="Lyon",
        vat_number="FR40303265045",
    )
    invoice = Invoice.objects.create(
        number="2026-000001",
        user=user,
        kind=InvoiceKind.FIRST,
        status=InvoiceStatus.PAID,
        currency="EUR",
        subtotal=9800,
        tax=1960,
        total=11760,
        tax_rate_bps=2000,
        period_start=ISSUED,
        period_end=ISSUED + timedelta(days=31),
        issued_at=ISSUED,
        paid_at=ISSUED,
        seller=seller_snapshot(),
        buyer=buyer_snapshot(user),
        language="fr",
    )
    for text, amount in (
        ("Premium, monthly / Premium, mensuel", 14700),
        ("Free months / Mois offerts : 1", -4900),
    ):
        InvoiceLine.objects.create(
            invoice=invoice,
            description=text,
            amount=amount,
            period_start=ISSUED,
            period_end=ISSUED + timedelta(days=31),
        )
    return invoice


def measure(document: Invoice | CreditNote, runs: int) -> tuple[int, list[float]]:
    """The PDF's size and each render's time in seconds (the first, warm-up one left out)."""
    document_pdf(document)  # the first render loads fonts and the XSD
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        pdf = document_pdf(document)
        times.append(time.perf_counter() - start)
    return len(pdf), times


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    call_command("migrate", run_syncdb=True, verbosity=0)
    invoice = sample_invoice()
    note = credit_note_issue(invoice=invoice, amount=4900, now=ISSUED, refunded_at=ISSUED)
    assert note is not None  # noqa: S101
    for label, document in (("invoice", invoice), ("credit note", note)):
        size, times = measure(document, runs)
        ms = sorted(t * 1000 for t in times)
        print(
            f"{label}: {size / 1024:.1f} KB, median render {statistics.median(ms):.0f} ms over "
            f"{runs} runs (min {ms[0]:.0f}, max {ms[-1]:.0f})"
        )


if __name__ == "__main__":
    main()
