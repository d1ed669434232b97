from datetime import date
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    return {
        "vendor_name": settings.VENDOR_NAME,
        "support_email": settings.SUPPORT_EMAIL,
        # 004: set at login (legal.signals), cleared when the customer opens the terms.
        "terms_update": _session_date(request, "terms_update"),
    }


def _session_date(request: HttpRequest, key: str) -> date | None:
    session = getattr(request, "session", None)
    value = session.get(key) if session is not None else None
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
