"""004: customers are told about a new version of the terms on every page until they read it."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from legal.models import TermsVersion

PASSWORD = "correct horse battery staple"


@pytest.fixture
def new_version(db):
    return TermsVersion.objects.create(
        version="2.0",
        last_updated=date(2026, 11, 20),
        body_fr="Nouvelles conditions.",
        body_en="New terms.",
        published_at=timezone.now(),
    )


def test_a_customer_who_joined_before_a_new_version_sees_the_banner_until_reading_it(
    client, customer, new_version
):
    type(customer).objects.filter(pk=customer.pk).update(
        date_joined=timezone.now() - timedelta(days=30)
    )
    client.post("/en/auth/login/", {"login": customer.email, "password": PASSWORD})
    page = client.get("/en/account/").content.decode()
    assert "Our terms were updated on Nov. 20, 2026." in page
    client.get("/en/terms/")
    assert "Our terms were updated on" not in client.get("/en/account/").content.decode()


def test_a_customer_who_joined_after_it_does_not(client, customer, new_version):
    type(customer).objects.filter(pk=customer.pk).update(
        date_joined=timezone.now() + timedelta(seconds=1)
    )
    client.post("/en/auth/login/", {"login": customer.email, "password": PASSWORD})
    assert "Our terms were updated on" not in client.get("/en/account/").content.decode()
