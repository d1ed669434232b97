"""Issue 13: no customer URL or form answers 500, whatever bytes it is sent.

Every route of the portal (but the admin, allauth's own and dj-stripe's webhook) is walked
from the URL resolver, so a new page is fuzzed without being listed here. Path parameters and
form fields get NUL bytes, huge strings, unicode, wrong types and duplicated fields. Run on
PostgreSQL too (psycopg refuses NUL bytes with a DataError).
"""

import re
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import LocalePrefixPattern
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SKIPPED = ("admin/", "auth/", "stripe/")
NASTY = st.one_of(
    st.sampled_from(["\x00", "%00", "a\x00b", "x" * 5000, "-1", "0", "1e309", "NaN", "../"]),
    st.text(min_size=0, max_size=40),
    st.integers().map(str),
)
FIELDS = [
    "confirm",
    "password",
    "reason",
    "subject",
    "body",
    "name",
    "email",
    "language",
    "currency",
    "plan",
    "price",
    "kind",
    "message",
    "time_zone",
    "setup_intent",
]


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if any(pattern.startswith(skip) for skip in SKIPPED):
                continue
            if isinstance(entry.pattern, LocalePrefixPattern):
                pattern = "en/"
            yield from _routes(entry, prefix + pattern)
        elif isinstance(entry, URLPattern):
            yield prefix + pattern


ROUTES = sorted({r for r in _routes() if not r.startswith("^")})
PARAM = re.compile(r"<(?:\w+:)?\w+>")


def _url(route, values):
    parts = iter(values)
    return "/" + PARAM.sub(lambda _m: quote(next(parts, "x"), safe=""), route)


@pytest.fixture
def fuzz_client(customer_client, catalog):
    customer_client.raise_request_exception = False
    return customer_client


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    values=st.lists(NASTY, min_size=3, max_size=3),
    form=st.lists(st.tuples(st.sampled_from(FIELDS), NASTY), max_size=6),
    method=st.sampled_from(["get", "post"]),
)
def test_no_customer_url_or_form_answers_500(fuzz_client, route, values, form, method):
    url = _url(route, values)
    data: dict[str, list[str]] = {}
    for name, value in form:
        data.setdefault(name, []).append(value)  # duplicated fields, as a browser may send
    response = getattr(fuzz_client, method)(url, data)
    assert response.status_code < 500, (url, data)


@pytest.mark.parametrize(
    "url",
    [
        "/en/account/invoices/%00/",
        "/en/account/invoices/%00/pdf/",
        "/en/account/invoices/%00/pay/",
        "/en/account/invoices/%00/refund/",
        "/en/account/data/exports/%00/",
    ],
)
def test_a_nul_byte_in_an_invoice_or_export_url_is_a_404(customer_client, url):
    customer_client.raise_request_exception = False
    assert customer_client.get(url).status_code == 404
