from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, str]:
    return {"vendor_name": settings.VENDOR_NAME, "support_email": settings.SUPPORT_EMAIL}
