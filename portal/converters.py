"""Path converters as tight as the values they carry: anything else is a 404 before a query.

`<str:...>` let any byte through to the database, and PostgreSQL refuses a NUL in a text
parameter (psycopg.DataError, an HTTP 500): issue 13.
"""

from django.urls import register_converter


class InvoiceNumberConverter:
    """An invoice number as services issue it: the year, a dash, six or more digits."""

    regex = r"[0-9]{4}-[0-9]{6,9}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class CreditNoteNumberConverter(InvoiceNumberConverter):
    """A credit note number: AV, the year, a dash, six or more digits."""

    regex = r"AV-[0-9]{4}-[0-9]{6,9}"


class ExportTokenConverter:
    """An export's secrets.token_urlsafe(32): URL-safe base64, at most the column's 64."""

    regex = r"[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class OutboxMessageConverter:
    """An outbox file's stem: a timestamp, a dash, a number."""

    regex = r"[0-9T]{1,32}-[0-9]{1,24}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(InvoiceNumberConverter, "invoice_number")
register_converter(CreditNoteNumberConverter, "credit_note_number")
register_converter(ExportTokenConverter, "export_token")
register_converter(OutboxMessageConverter, "outbox_message")
