"""Production shape: links follow the port, rate limits key on the client behind a proxy,
and each request logs one JSON line whose request id also rides on its e-mails and Stripe
calls."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from allauth.account.adapter import get_adapter
from django.core import mail
from django.test import RequestFactory

from portal.logs import logging_config

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long and unusual passphrase 42"


def _settings_value(name, **environ):
    code = (
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.local", **environ}
    env.pop("SITE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_site_url_follows_the_port_of_make_run():
    assert _settings_value("SITE_URL", PORTAL_PORT="8101") == "http://127.0.0.1:8101"
    assert _settings_value("SITE_URL") == "http://127.0.0.1:8000"


@pytest.mark.django_db
def test_the_verification_email_names_the_address_its_link_points_to(client, settings):
    settings.SITE_URL = "http://127.0.0.1:8101"
    client.post(
        "/en/auth/signup/",
        {
            "name": "Camille",
            "email": "new@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        HTTP_HOST="127.0.0.1:8101",
    )

    body = mail.outbox[0].body
    link = re.search(r"https?://[^\s]+/auth/confirm-email/[^\s]+/", body).group(0)
    assert link.startswith("http://127.0.0.1:8101/")
    assert "127.0.0.1:8101" in body.replace(link, "")  # the visible text names the same site
    assert "8000" not in body


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    assert get_adapter().get_client_ip(request) == "10.0.0.2"  # no proxy trusted: the socket
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert get_adapter().get_client_ip(request) == "203.0.113.7"


def test_the_trusted_proxy_count_comes_from_the_environment():
    assert _settings_value("ALLAUTH_TRUSTED_PROXY_COUNT", TRUSTED_PROXY_COUNT="2") == "2"
    assert _settings_value("ALLAUTH_TRUSTED_PROXY_COUNT") == "0"
    header = _settings_value(
        "ALLAUTH_TRUSTED_CLIENT_IP_HEADER", TRUSTED_CLIENT_IP_HEADER="X-Real-IP"
    )
    assert header == "X-Real-IP"


def _login(client, user, ip):
    return client.post(
        "/en/auth/login/",
        {"login": user.email, "password": "pass-1234-word"},
        REMOTE_ADDR="10.0.0.2",  # the proxy's socket, the same for everyone
        HTTP_X_FORWARDED_FOR=ip,
    )


@pytest.mark.django_db
def test_behind_a_proxy_each_customer_has_their_own_login_budget(client, customer, settings):
    customer.set_password("pass-1234-word")
    customer.save()
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1

    for n in range(5):  # five customers' logins through one proxy: none refused
        client.logout()
        assert _login(client, customer, f"203.0.113.{n}").status_code == 302
    for _ in range(3):
        client.logout()
        assert _login(client, customer, "198.51.100.9").status_code == 302
    client.logout()
    assert _login(client, customer, "198.51.100.9").status_code == 429  # that one client's 4th


@pytest.fixture
def json_log():
    """Root log lines rendered exactly as production renders them (LOG_FORMAT=json)."""
    config = logging_config(fmt="json", level="INFO")["formatters"]["structured"]
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=config["processors"], foreign_pre_chain=config["foreign_pre_chain"]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    saved = root.level, logging.getLogger("stripe").level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("stripe").setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        logging.getLogger("stripe").setLevel(saved[1])


@pytest.mark.django_db
def test_one_json_line_per_request_with_its_id_on_the_email_it_sent(client, json_log, settings):
    # Django's test set-up swaps EMAIL_BACKEND for locmem: put the production chain back.
    settings.EMAIL_BACKEND = "portal.mail.TracedEmailBackend"
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client.post(
        "/en/auth/signup/",
        {
            "name": "Camille",
            "email": "new@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    lines = json_log()
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert len(finished) == 1
    assert finished[0]["request"] == "POST /en/auth/signup/"
    request_id = finished[0]["request_id"]
    assert mail.outbox[0].extra_headers["X-Request-ID"] == request_id
    sent = [line for line in lines if line["event"] == "email_sent"]
    assert [line["request_id"] for line in sent] == [request_id]
    assert not any(line["event"] == "request_started" for line in lines)
    assert "new@example.com" not in json.dumps(sent)


@pytest.mark.django_db
def test_stripe_calls_a_request_makes_carry_its_request_id(
    customer_client, catalog, stripe_server, json_log
):
    response = customer_client.get("/en/account/card/")
    assert response.status_code == 200

    lines = json_log()
    request_id = next(line for line in lines if line["event"] == "request_finished")["request_id"]
    stripe_lines = [line for line in lines if line.get("logger") == "stripe"]
    assert stripe_lines, "the SetupIntent was created through Stripe"
    assert {line["request_id"] for line in stripe_lines} == {request_id}
