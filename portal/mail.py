"""Every e-mail carries the id of the request (or task) that sent it, and is logged once."""

from collections.abc import Sequence
from typing import Any

import structlog
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

logger = structlog.get_logger(__name__)


class TracedEmailBackend(BaseEmailBackend):
    """Delivers through ``EMAIL_DELIVERY_BACKEND`` (SMTP, the outbox, locmem in tests)."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        self.inner = get_connection(
            settings.EMAIL_DELIVERY_BACKEND, fail_silently=fail_silently, **kwargs
        )

    def open(self) -> bool | None:
        return self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        context = structlog.contextvars.get_contextvars()
        request_id = context.get("request_id") or context.get("task_id")
        if request_id:
            for message in email_messages:
                message.extra_headers["X-Request-ID"] = str(request_id)
        sent = self.inner.send_messages(email_messages) or 0
        # The subject and recipient stay out of the logs: they are personal data.
        logger.info("email_sent", count=sent)
        return sent
