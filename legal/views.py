"""The public terms pages; a logged-in customer viewing the latest version is recorded."""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import User
from legal import selectors, services


def _render(request: HttpRequest, pk: int | None) -> TemplateResponse:
    published = list(selectors.terms_published())
    latest = published[0] if published else None
    version = latest if pk is None else next((v for v in published if v.pk == pk), None)
    if pk is not None and version is None:
        raise Http404
    if version is not None and version == latest and isinstance(request.user, User):
        services.terms_seen_record(user=request.user, version=version, now=timezone.now())
        request.session.pop("terms_update", None)
    context = {
        "version": version,
        "is_latest": version == latest,
        "others": [v for v in published if v != version],
    }
    return TemplateResponse(request, "legal/terms.html", context)


@login_not_required
def terms(request: HttpRequest) -> TemplateResponse:
    return _render(request, None)


@login_not_required
def terms_version(request: HttpRequest, pk: int) -> TemplateResponse:
    return _render(request, pk)
