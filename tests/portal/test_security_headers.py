"""Issue 13, finding 6: an enforced CSP (django-csp), Permissions-Policy, COOP, and the language
cookie's flags. The browser journeys (tests/e2e) fail on any CSP violation; these tests read
the headers and every page's markup, so a page no journey opens cannot carry inline code."""

import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.conftest import staff_login
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
# Script types a browser does not run (allauth passes its settings as JSON).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: sources
        for name, *sources in (part.split() for part in header.split(";") if part.strip())
    }


class InlineCode(HTMLParser):
    """Inline scripts, styles, style attributes, event handlers and javascript: URLs."""

    def __init__(self, nonce: str | None) -> None:
        super().__init__()
        self.nonce = nonce
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        nonced = self.nonce is not None and attributes.get("nonce") == self.nonce
        inline_script = tag == "script" and "src" not in attributes
        if inline_script and not nonced and attributes.get("type") not in DATA_SCRIPT_TYPES:
            self.found.append(f"inline <script> at line {self.getpos()[0]}")
        if tag == "style" and not nonced:
            self.found.append(f"inline <style> at line {self.getpos()[0]}")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...> at line {self.getpos()[0]}")
            if name in {"href", "src", "action"} and (value or "").lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:...> at line {self.getpos()[0]}")


def _assert_no_inline_code(response, url):
    assert response.status_code == 200, url
    assert "Content-Security-Policy" in response, url
    nonces = re.findall(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    parser = InlineCode(nonces[0] if nonces else None)
    parser.feed(response.content.decode())
    assert not parser.found, f"{url}: {parser.found}"


def test_the_policy_is_enforced_strict_and_allows_stripe_js_from_the_configured_origin(
    client, db, settings
):
    settings.STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/"
    response = client.get("/fr/")

    assert "Content-Security-Policy-Report-Only" not in response
    policy = _policy(response)
    assert policy["script-src"] == ["'self'", "'report-sample'", "http://127.0.0.1:8420"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert policy["frame-src"] == ["http://127.0.0.1:8420"]
    assert policy["style-src"] == ["'self'", "'report-sample'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    header = response["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header


def test_with_real_stripe_js_the_policy_names_stripes_hosts(client, db, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    policy = _policy(client.get("/en/"))

    assert policy["script-src"][-1] == "https://js.stripe.com"
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert policy["frame-src"] == ["https://js.stripe.com", "https://hooks.stripe.com"]
    assert "http://127.0.0.1:8420" not in str(policy)


def test_permissions_policy_and_cross_origin_opener_policy_on_every_page(client, db):
    response = client.get("/en/auth/login/")

    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in permissions


def test_the_language_cookie_is_httponly_and_samesite_lax(client, db):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/en/"})

    cookie = response.cookies["django_language"]
    assert cookie.value == "en"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_production_marks_the_language_cookie_secure():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.LANGUAGE_COOKIE_SECURE, settings.LANGUAGE_COOKIE_HTTPONLY, "
        "settings.LANGUAGE_COOKIE_SAMESITE)"
    )
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
        "DATABASE_URL": "sqlite:////tmp/never-opened.sqlite3",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "True", "Lax"]


CUSTOMER_PAGES = [
    "/fr/",
    "/fr/account/",
    "/fr/account/settings/",
    "/fr/account/subscription/",
    "/fr/account/invoices/",
    "/fr/account/support/",
    "/fr/account/support/new/",
    "/fr/account/data/",
    "/fr/account/data/delete/",
    "/fr/account/cancel/",
    "/fr/account/refunds/",
    "/fr/terms/",
    "/fr/auth/email/",
    "/fr/auth/password/change/",
]
ANONYMOUS_PAGES = [
    "/fr/auth/login/",
    "/fr/auth/signup/",
    "/fr/auth/password/reset/",
    "/en/",
    "/fr/terms/",
]


@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_anonymous_pages_carry_no_inline_code(client, catalog, url):
    _assert_no_inline_code(client.get(url, follow=True), url)


@pytest.mark.parametrize("url", CUSTOMER_PAGES)
def test_customer_pages_carry_no_inline_code(customer_client, catalog, url):
    _assert_no_inline_code(customer_client.get(url, follow=True), url)


def test_staff_pages_admin_and_mfa_carry_no_inline_code(client, catalog):
    staff = UserFactory(is_staff=True, is_superuser=True)
    staff_login(client, staff)
    urls = [
        "/en/admin/",
        "/en/auth/2fa/",
        "/en/auth/2fa/recovery-codes/generate/",
        f"/en/admin/accounts/user/{staff.pk}/change/",
    ]
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        if model_admin.has_add_permission(_request_for(staff)):
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    for url in urls:
        response = client.get(url, follow=True)
        _assert_no_inline_code(response, url)


def test_totp_setup_page_carries_no_inline_code(client, db):
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY

    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    session = client.session  # a password login just now: no reauthentication asked
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time(), "email": staff.email, "reauthenticated": True}
    ]
    session["account_authentication_methods_user"] = str(staff.pk)
    session.save()
    response = client.get("/en/auth/2fa/totp/activate/")

    assert b'src="data:image/svg+xml' in response.content  # the QR code: img-src data:
    _assert_no_inline_code(response, "/en/auth/2fa/totp/activate/")


def _request_for(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request
