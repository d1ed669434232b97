import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache

from subscriptions import catalog as default_catalog
from subscriptions.models import Plan, Price
from tests.factories import UserFactory

pytest_plugins = ["tests.stripe_plugin"]


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


class TickedTerms:
    """The subscribe page's "I accept the terms" box, ticked, for the published version."""

    def __init__(self, version):
        self.version = version
        self.data = {"terms": str(version.pk)}  # what the ticked box posts

    def tick(self, page):
        """In the browser, with the keyboard as a customer would: focus the box, Space."""
        box = page.locator('input[name="terms"]')
        box.focus()
        page.keyboard.press("Space")
        assert box.is_checked()


@pytest.fixture
def ticked_terms(db):
    """The published terms the data migration installs (the suite runs without migrations),
    accepted on the subscribe form: `**ticked_terms.data` in a post, `tick(page)` in a browser."""
    from legal import content
    from legal.models import TermsVersion

    content.seed(TermsVersion)
    return TickedTerms(TermsVersion.objects.get(version=content.VERSION))


@pytest.fixture
def customer(db):
    user = UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def stripe_server(localstripe, settings):
    """localstripe for this test, with the portal's gateway pointed at it."""
    return localstripe


@pytest.fixture
def add_card(stripe_server):
    """Save a card for a customer the way Stripe.js does: a SetupIntent confirmed with a
    payment method, then the portal's card_save with the SetupIntent's id."""
    import stripe

    from subscriptions.services.cards import card_save, card_setup_start

    def _add(user, payment_method="pm_card_visa"):
        client_secret = card_setup_start(user=user)
        setup_intent_id = client_secret.split("_secret_")[0]
        stripe.SetupIntent.confirm(setup_intent_id, payment_method=payment_method)
        return card_save(user=user, setup_intent_id=setup_intent_id)

    return _add


STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def staff_totp(user):
    """Give a staff member the TOTP authenticator every staff account must have."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, STAFF_TOTP_SECRET)
    return user


def staff_login(client, user):
    """Sign a staff member in as allauth does after password and TOTP: force_login, then the
    session's record of a second factor (allauth's AUTHENTICATION_METHODS_SESSION_KEY)."""
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
    from allauth.mfa.models import Authenticator

    staff_totp(user)
    client.force_login(user)
    session = client.session
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": 0.0, "email": user.email},
        {"method": "mfa", "at": 0.0, "id": authenticator.pk, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def staff_reauthenticated(client):
    """The staff member just typed their password again (allauth's reauthentication)."""
    import time

    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY

    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        *session[AUTHENTICATION_METHODS_SESSION_KEY],
        {"method": "password", "at": time.time(), "reauthenticated": True},
    ]
    session.save()
    return client


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin_client, signed in with TOTP as the admin requires."""
    return staff_login(client, admin_user)


def shown_charge(html):
    """The signed charge a confirmation page carries in its form (`name="charge"`): posting it
    back is the customer confirming the amount that page showed."""
    import re

    found = re.search(r'name="charge" value="([^"]+)"', html)
    assert found, "the page shows no charge to confirm"
    return found.group(1)
