"""The embedded default's e-mail outbox: each message saved as a .eml file.

It holds every e-mail's sign-in and reset links, so it exists only in DEBUG with this backend
as EMAIL_BACKEND (portal/urls.py mounts it then), and only superusers signed in with TOTP
read it (issue 13)."""

import email
import email.policy
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.middleware import staff_mfa_authenticated

BACKEND = "portal.outbox.OutboxEmailBackend"
TRACED = "portal.mail.TracedEmailBackend"


def outbox_enabled() -> bool:
    backend = settings.EMAIL_BACKEND
    if backend == TRACED:  # the traced backend hands each message to the delivery backend
        backend = settings.EMAIL_DELIVERY_BACKEND
    return bool(settings.DEBUG) and backend == BACKEND


def superuser_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not outbox_enabled():
            raise Http404
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_superuser and staff_mfa_authenticated(request)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


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


@superuser_required
def outbox_list(request: HttpRequest) -> TemplateResponse:
    paths = sorted(_outbox_dir().glob("*.eml"), reverse=True)[:200]
    return TemplateResponse(request, "outbox/list.html", {"messages_": [_read(p) for p in paths]})


@superuser_required
def outbox_detail(request: HttpRequest, message_id: str) -> TemplateResponse:
    path = _outbox_dir() / f"{message_id}.eml"
    if not path.is_file():
        raise Http404
    return TemplateResponse(request, "outbox/detail.html", {"message_": _read(path)})
