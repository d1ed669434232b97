import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group

from subscriptions.models import Price
from subscriptions.services.checkout import subscribe
from tests.conftest import staff_login
from tests.factories import UserFactory


def price(code, interval, currency="EUR"):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency=currency
    )


@pytest.fixture
def staff(db):
    """A staff member of one group, in the language asked."""

    def _staff(group, language="en"):
        member = UserFactory(is_staff=True, language=language)
        member.groups.add(Group.objects.get(name=group))
        EmailAddress.objects.create(user=member, email=member.email, verified=True, primary=True)
        return member

    return _staff


@pytest.fixture
def staff_client(client, staff):
    def _client(group, language="en"):
        member = staff(group, language)
        staff_login(client, member)
        client.member = member
        return client

    return _client


@pytest.fixture
def subscribed(add_card, catalog):
    def _subscribed(user, code, interval, *, at):
        add_card(user)
        return subscribe(user=user, price=price(code, interval), now=at)

    return _subscribed
