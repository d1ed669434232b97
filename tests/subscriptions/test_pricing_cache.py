"""The pricing table is read once per currency, from the cache, until the catalog changes
in the admin (issue 18); sessions are read from the cache too."""

import re

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from portal import pagecache
from subscriptions.models import Price


def test_the_pricing_page_reads_the_catalog_once_per_currency(
    client, catalog, django_assert_num_queries
):
    assert "€49.00 per month" in client.get("/en/").content.decode()
    with django_assert_num_queries(0):  # an anonymous visitor: no session, catalog cached
        html = client.get("/fr/").content.decode()
    assert "49,00\xa0€ par mois" in html
    # Another currency is read on its own.
    assert "$55.00 per month" in client.get("/en/?currency=USD").content.decode()


def test_a_price_saved_in_the_admin_is_on_the_page_at_once(client, catalog):
    """The admin saves the model: post_save forgets the cached table."""
    assert "€49.00 per month" in client.get("/en/").content.decode()
    price = Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")
    price.amount = 5900
    price.save()
    html = client.get("/en/").content.decode()
    assert "€59.00 per month" in html
    assert "€49.00 per month" not in html
    price.delete()
    assert "€59.00 per month" not in client.get("/en/").content.decode()


def test_sessions_are_read_from_the_cache():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"


def _token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_visitors_share_the_cached_page_each_with_their_own_csrf_token(catalog):
    """The page is rendered once for visitors not signed in; each gets a token of their own
    that the language form then accepts."""
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    html_first = first.get("/en/").content.decode()
    with CaptureQueriesContext(connection) as queries:
        html_second = second.get("/en/").content.decode()
    assert len(queries) == 0
    assert pagecache.TOKEN_STAND_IN not in html_first + html_second
    assert _token(html_first) != _token(html_second)
    assert "€49.00 per month" in html_second
    assert "Sign in" in html_second
    answer = second.post(
        "/i18n/setlang/",
        {"language": "fr", "next": "/en/", "csrfmiddlewaretoken": _token(html_second)},
    )
    assert answer.status_code == 302  # accepted: a 403 would mean the token was not its own
    refused = first.post(
        "/i18n/setlang/", {"language": "fr", "next": "/en/", "csrfmiddlewaretoken": "x" * 64}
    )
    assert refused.status_code == 403


def test_the_currency_asked_for_has_its_own_cached_page(client, catalog):
    client.get("/en/?currency=GBP")
    assert "£" in client.get("/en/?currency=GBP").content.decode()
    assert "€49.00 per month" in Client().get("/en/").content.decode()


def test_a_message_waiting_or_a_customer_signed_in_gets_the_page_rendered_for_them(
    client, customer, catalog
):
    Client().get("/en/")  # the visitors' page is cached
    client.force_login(customer)
    html = client.get("/en/").content.decode()
    assert "Sign out" in html
    assert "Sign in" not in html
    with translation.override("en"):
        client.post(reverse("account_logout"))
    html = client.get("/en/").content.decode()
    assert "You have signed out." in html
    assert "You have signed out." not in client.get("/en/").content.decode()


def test_only_the_offered_currencies_have_a_cached_page(client, catalog, monkeypatch):
    """A query of the visitor's making is answered, but not kept: the cache holds a few
    pages per language, whatever is asked."""
    kept = []

    class Recording:
        get = staticmethod(cache.get)

        @staticmethod
        def set(key, value, timeout):
            kept.append(key)
            cache.set(key, value, timeout)

    monkeypatch.setattr(pagecache, "cache", Recording)
    for query in ("?currency=XYZ", "?currency=usd", "?currency=EUR&currency=GBP", "?utm=1"):
        assert client.get(f"/en/{query}").status_code == 200
    assert kept == []
    client.get("/en/?currency=GBP")
    client.get("/en/?currency=GBP")
    assert len(kept) == 1
