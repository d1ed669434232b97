"""The portal's URLs and the two reference views the benches compare its pages with."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from portal.urls import urlpatterns as portal_urls


@login_not_required
def bare(request: HttpRequest) -> HttpResponse:
    """Through the whole middleware stack, reading nothing."""
    return HttpResponse("ok")


def minimal(request: HttpRequest) -> HttpResponse:
    """The minimal authenticated page: the session, the user and the base layout."""
    return render(request, "bench_minimal.html")


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/minimal/", minimal),
    *portal_urls,
]
