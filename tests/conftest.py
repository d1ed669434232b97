import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache

from subscriptions import catalog as default_catalog
from subscriptions.models import Plan, Price
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """allauth's rate limits live in the cache: each test starts with none used."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def catalog(db):
    """The default catalog (the suite runs without migrations, so the data migration is skipped)."""
    default_catalog.seed(Plan, Price)
    return {plan.code: plan for plan in Plan.objects.all()}


@pytest.fixture
def customer(db):
    user = UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client
