"""The pricing table is read once per currency, from the cache, until the catalog changes
in the admin (issue 18); sessions are read from the cache too."""

from django.conf import settings

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
