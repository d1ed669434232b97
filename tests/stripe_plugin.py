"""pytest plugin: one localstripe server per test session (per xdist worker).

Registered from ``tests/conftest.py`` with ``pytest_plugins = ["tests.stripe_plugin"]``.
Importing it does not import Django, so it also works with ``-p no:django``.

The session fixture ``localstripe`` starts the server on a free 127.0.0.1 port with a
temporary state file, points stripe-python at it, and, when Django settings are
configured, sets ``STRIPE_API_BASE``, ``STRIPE_SECRET_KEY``, ``STRIPE_TEST_SECRET_KEY``,
``STRIPE_PUBLISHABLE_KEY`` and ``STRIPE_JS_URL`` on ``django.conf.settings`` for the
session. Everything is restored afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from devtools.localstripe_server import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe, start_in_thread

_MISSING = object()


@contextlib.contextmanager
def _patched(target: Any, values: dict[str, Any]) -> Iterator[None]:
    """Set attributes on ``target``; put back (or delete) the old ones on exit."""
    saved = {name: getattr(target, name, _MISSING) for name in values}
    try:
        for name, value in values.items():
            setattr(target, name, value)
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, value)


@contextlib.contextmanager
def _stripe_configured(server: LocalStripe) -> Iterator[None]:
    session = requests.Session()
    session.trust_env = False  # never send loopback traffic through an HTTP(S)_PROXY
    client = stripe.RequestsClient(timeout=30, session=session)
    values = {
        "api_base": server.url,
        "api_key": SECRET_KEY,
        "max_network_retries": 0,
        "enable_telemetry": False,
        "default_http_client": client,
    }
    try:
        with _patched(stripe, values):
            yield
    finally:
        session.close()


@contextlib.contextmanager
def _django_settings_configured(server: LocalStripe) -> Iterator[None]:
    try:
        from django.conf import settings
    except ImportError:
        yield
        return
    if not settings.configured:
        yield
        return
    values = {
        "STRIPE_API_BASE": server.url,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_TEST_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_JS_URL": server.js_url,
    }
    with _patched(settings, values):
        yield


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """A localstripe server on 127.0.0.1, shared by the session (one per xdist worker).

    Objects persist between tests; create fresh ones rather than relying on an empty
    server. Its webhooks can be pointed at a live server with ``register_webhook``.
    """
    state_path = tmp_path_factory.mktemp("localstripe") / "localstripe.pickle"
    server = start_in_thread(port=0, state_path=state_path, from_scratch=True)
    try:
        with _stripe_configured(server), _django_settings_configured(server):
            yield server
    finally:
        server.stop()
