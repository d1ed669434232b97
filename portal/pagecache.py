"""Whole pages cached for visitors who are not signed in (the public pricing page): the page
is rendered once with a stand-in for the CSRF token, and each visitor's own token is put in
when it is sent."""

from collections.abc import Callable

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.response import TemplateResponse

# Stands for the CSRF token in a cached page; replaced by the visitor's own before sending.
TOKEN_STAND_IN = "portal-csrf-token-stand-in"  # noqa: S105 - not a secret: a marker


def for_visitors(
    request: HttpRequest,
    *,
    key: str,
    seconds: int,
    render: Callable[[dict[str, str]], TemplateResponse],
) -> HttpResponse:
    """`render(extra_context)`'s page, from the cache under `key` for a visitor who is not
    signed in and has no message waiting; rendered afresh for anyone else. `key` must name
    everything else the page depends on (its catalog version, language, currency, path)."""
    if request.user.is_authenticated or len(messages.get_messages(request)):
        return render({})
    html: str | None = cache.get(key)
    if html is None:
        response = render({"csrf_token": TOKEN_STAND_IN})
        response.render()
        if response.status_code != 200:
            return response
        html = response.content.decode()
        cache.set(key, html, seconds)
    return HttpResponse(html.replace(TOKEN_STAND_IN, get_token(request)))
