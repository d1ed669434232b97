"""The embedded default's e-mail outbox: each message saved as a .eml file, readable by staff."""

import email
import email.policy
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone


def _outbox_dir() -> Path:
    path = Path(settings.EMAIL_OUTBOX_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        directory = _outbox_dir()
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
            (directory / f"{stamp}-{id(message)}.eml").write_bytes(message.message().as_bytes())
        return len(email_messages)


def _read(path: Path) -> dict[str, object]:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    return {
        "id": path.stem,
        "to": parsed["To"],
        "subject": parsed["Subject"],
        "date": parsed["Date"],
        "text": body.get_content() if body else "",
        "html": html.get_content() if html else "",
    }


@staff_member_required
def outbox_list(request: HttpRequest) -> TemplateResponse:
    paths = sorted(_outbox_dir().glob("*.eml"), reverse=True)[:200]
    return TemplateResponse(request, "outbox/list.html", {"messages_": [_read(p) for p in paths]})


@staff_member_required
def outbox_detail(request: HttpRequest, message_id: str) -> TemplateResponse:
    path = _outbox_dir() / f"{message_id}.eml"
    if "/" in message_id or not path.is_file():
        raise Http404
    return TemplateResponse(request, "outbox/detail.html", {"message_": _read(path)})
