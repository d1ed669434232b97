"""Issue 13: the outbox (every e-mail's links) only in DEBUG with its backend, superusers only."""

import pytest
from django.test import RequestFactory
from django.urls import Resolver404, resolve

from portal import outbox
from tests.conftest import staff_login
from tests.factories import UserFactory


@pytest.fixture
def debug_outbox(settings, tmp_path):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = outbox.BACKEND
    settings.EMAIL_OUTBOX_DIR = str(tmp_path)


def _list(user, *, mfa=True):
    from django.test import Client

    client = Client()
    if mfa:
        staff_login(client, user)
    else:
        client.force_login(user)
    request = RequestFactory().get("/en/outbox/")
    request.session = client.session
    request.user = user
    return outbox.outbox_list(request)


def test_the_outbox_is_not_mounted_without_debug():
    with pytest.raises(Resolver404):
        resolve("/en/outbox/")


def test_the_outbox_is_not_served_when_another_backend_sends(db, settings, tmp_path):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with pytest.raises(outbox.Http404):
        _list(UserFactory(is_staff=True, is_superuser=True))


def test_the_outbox_follows_the_backend_the_traced_one_delivers_to(settings):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "portal.mail.TracedEmailBackend"  # as in make run
    settings.EMAIL_DELIVERY_BACKEND = outbox.BACKEND
    assert outbox.outbox_enabled()
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert not outbox.outbox_enabled()


def test_staff_who_are_not_superusers_cannot_read_it(db, debug_outbox):
    with pytest.raises(outbox.PermissionDenied):
        _list(UserFactory(is_staff=True))


def test_a_superuser_needs_a_session_opened_with_totp(db, debug_outbox):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    with pytest.raises(outbox.PermissionDenied):
        _list(superuser, mfa=False)
    assert _list(superuser).status_code == 200
