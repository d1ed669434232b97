"""One page of a customer's list: the cost of a page does not grow with their history."""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.http import HttpRequest


def page_of(request: HttpRequest, object_list: Sequence[Any] | Any) -> Page:
    """The page asked for in `?page=`; a number out of range or not a number gives the
    nearest page rather than an error (get_page)."""
    paginator = Paginator(object_list, settings.PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))
