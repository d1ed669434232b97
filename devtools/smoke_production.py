"""The production shape, run for real and driven as one customer would, over HTTP.

    python -m devtools.smoke_production --database-url postgres://... --redis redis://127.0.0.1:6379

Starts the Procfile's processes (gunicorn with 2 workers, a Celery worker, Celery beat) on
`portal.settings.production` with the environment the README lists, localstripe for Stripe
and an SMTP sink (aiosmtpd) on 127.0.0.1. Then a customer signs up, verifies by the link in
the e-mail received over SMTP, starts a trial, subscribes with a card, upgrades and cancels.
On the way it checks that the e-mails arrive through SMTP, that a queued task ran on the
worker (not eagerly), that /health/ is green and that static files are compressed with
far-future cache headers. Every process it started is stopped, pass or fail.
"""

import argparse
import contextlib
import email
import email.policy
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from aiosmtpd.controller import Controller

from devtools.run import localstripe_args, stop_all

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "a long and unusual passphrase 42"  # noqa: S105 - a throwaway customer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- an SMTP sink -------------------------------------------------------------------------


class Sink:
    """Keeps every message received over SMTP."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)
        return "250 OK"

    def wait_for(self, count: int, seconds: float = 60) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                subjects = [m["Subject"] for m in self.messages]
                raise AssertionError(f"expected {count} e-mails over SMTP, got {subjects}")
            time.sleep(0.2)
        return self.messages

    @staticmethod
    def text(message: email.message.EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        return part.get_content() if part else ""


# --- a browser without JavaScript ----------------------------------------------------------


class Forms(HTMLParser):
    """The forms of a page: action, method, fields and the visible label of each button."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action", ""),
                    "method": a.get("method", "get"),
                    "fields": {},
                    "buttons": [],
                    "attrs": a,
                }
            )
        elif self.forms and tag in ("input", "textarea", "select") and a.get("name"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))
        elif self.forms and tag == "button":
            self._button = []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            self.forms[-1]["buttons"].append(" ".join("".join(self._button).split()))
            self._button = None


class Customer:
    """One person with a cookie jar, reaching the site as if through its HTTPS proxy."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False
        # The proxy terminates TLS: Django sees https (SECURE_PROXY_SSL_HEADER).
        self.http.headers["X-Forwarded-Proto"] = "https"
        self.http.headers["Origin"] = base.replace("http://", "https://")

    def _insecure_cookies(self) -> None:
        # Secure cookies come back over our plain loopback link, as the proxy would send them.
        for cookie in self.http.cookies:
            cookie.secure = False

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Follows redirects itself, so the cookies set on each hop are sent on the next."""
        for _ in range(10):
            response = self.http.request(method, url, timeout=60, allow_redirects=False, **kwargs)
            self._insecure_cookies()
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            url = urljoin(url, response.headers["Location"])
            method, kwargs = "GET", {k: v for k, v in kwargs.items() if k == "headers"}
        raise AssertionError(f"too many redirects at {url}")

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self._send("GET", urljoin(self.base, path), **kwargs)

    def submit(
        self, page: requests.Response, button: str, form_id: str = "", **fields: str
    ) -> requests.Response:
        parser = Forms()
        parser.feed(page.text)
        for form in parser.forms:
            if form_id and form["attrs"].get("id") == form_id:
                break
            if not form_id and any(button in label for label in form["buttons"]):
                break
        else:
            raise AssertionError(f"no button {button!r} on {page.url}")
        data = {**form["fields"], **fields}
        response = self._send(
            "POST",
            urljoin(page.url, form["action"] or page.url),
            data=data,
            headers={"Referer": page.url.replace("http://", "https://")},
        )
        if response.status_code >= 400:
            raise AssertionError(f"{button!r} on {page.url} answered {response.status_code}")
        return response

    @staticmethod
    def card_form(page: requests.Response) -> dict[str, Any]:
        parser = Forms()
        parser.feed(page.text)
        return next(f for f in parser.forms if f["attrs"].get("id") == "card-form")


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)
    print(f"  ok  {what}", flush=True)


# --- the processes -------------------------------------------------------------------------


@contextlib.contextmanager
def processes(log_dir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        stop_all(started, timeout=20)


def start(
    started: list[subprocess.Popen[bytes]],
    name: str,
    args: list[str],
    env: dict[str, str],
    log_dir: Path,
) -> Path:
    log = log_dir / f"{name}.log"
    started.append(
        subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    return log


def wait_http(url: str, seconds: float = 60, **kwargs: Any) -> requests.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return requests.get(url, timeout=15, **kwargs)
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


# --- the journey ---------------------------------------------------------------------------


def terms_ticked(page: requests.Response) -> str:
    """The subscribe form's "I accept the terms" box, as the customer ticks it."""
    box = re.search(r'<input type="checkbox" name="terms" value="(\d+)" required>', page.text)
    expect(box is not None, "the subscribe page asks to accept the terms of service")
    return box.group(1)


def journey(base: str, stripe_url: str, sink: Sink, worker_log: Path) -> None:
    health = requests.get(f"{base}/health/", headers={"Accept": "application/json"}, timeout=30)
    expect(
        health.status_code == 200 and set(health.json().values()) == {"OK"},
        f"/health/ is green: {health.json()}",
    )

    visitor = Customer(base)
    pricing = visitor.get("/en/")
    expect(pricing.status_code == 200 and "Premium" in pricing.text, "the pricing page answers")
    css = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', pricing.text)
    expect(css is not None, "the stylesheet has a hashed name (collectstatic's manifest)")
    static = visitor.get(css.group(1), headers={"Accept-Encoding": "gzip, br"})
    expect(
        static.status_code == 200
        and static.headers.get("Content-Encoding") in ("gzip", "br")
        and "max-age=315360000" in static.headers.get("Cache-Control", ""),
        f"static files are compressed, cached for 10 years: "
        f"{static.headers.get('Content-Encoding')}, {static.headers.get('Cache-Control')}",
    )

    address = f"smoke-{secrets.token_hex(4)}@example.com"
    signup = visitor.get("/en/auth/signup/")
    visitor.submit(
        signup,
        "Sign",
        name="Camille Smoke",
        company="Smoke SARL",
        email=address,
        password1=PASSWORD,
        password2=PASSWORD,
    )
    verification = sink.wait_for(1)[0]
    expect(address in verification["To"], "the verification e-mail arrived over SMTP")
    link = re.search(r"https?://\S+/auth/confirm-email/\S+/", Sink.text(verification))
    public = base.replace("http://", "https://")  # as the proxy serves it
    expect(link is not None and link.group(0).startswith(public), f"its link is {public}/…")
    path = link.group(0).removeprefix(public)
    confirmed = visitor.submit(visitor.get(path), "Confirm")
    expect(
        "Hello Camille" in confirmed.text,
        f"following the link verifies and logs in ({confirmed.url} {confirmed.status_code})",
    )

    trial = visitor.submit(visitor.get("/en/account/trial/pro/"), "Start my free trial")
    expect("trial" in trial.text.lower(), "a 15-day trial of Pro has started")
    welcome = sink.wait_for(2)[1]
    expect("trial" in welcome["Subject"].lower(), f"the welcome e-mail: {welcome['Subject']!r}")
    ran = [
        json.loads(line)
        for line in worker_log.read_text().splitlines()
        if line.startswith("{") and '"task_succeeded"' in line
    ]
    expect(
        any(line.get("task_id") for line in ran),
        "the e-mail was sent by a task on the Celery worker, not eagerly",
    )

    detail = visitor.get("/en/account/subscription/")
    subscribe_path = re.search(
        r'href="(/en/account/subscribe/\d+/)">Pro \u2013 [^<]*per month', detail.text
    )
    expect(subscribe_path is not None, "the subscription page offers Pro monthly")
    subscribe = visitor.get(subscribe_path.group(1))
    secret = Customer.card_form(subscribe)["attrs"]["data-client-secret"]
    setup_intent = secret.split("_secret_")[0]
    confirmed_setup = requests.post(
        f"{stripe_url}/v1/setup_intents/{setup_intent}/confirm",
        data={"payment_method": "pm_card_visa"},
        auth=("sk_test_localstripe0000000000000", ""),
        timeout=30,
    )
    expect(confirmed_setup.ok, "Stripe (localstripe) confirmed the card's SetupIntent")
    subscribed = visitor.submit(
        subscribe, "", form_id="card-form", setup_intent=setup_intent, terms=terms_ticked(subscribe)
    )
    expect(subscribed.status_code == 200, "subscribed to Pro with the card")

    # During the trial a higher plan is chosen with the saved card (the trial runs on, its
    # end billed at the new price); once paid, it is a prorated upgrade confirmed on a quote.
    detail = visitor.get("/en/account/subscription/")
    link = r'href="(/en/account/subscri[a-z/]+/\d+/)"[^>]*>Premium \u2013 [^<]*per month'
    premium = re.search(link, detail.text)
    expect(premium is not None, "the subscription page offers Premium monthly")
    upgrade = visitor.get(premium.group(1))
    if "/change/" in upgrade.url:
        visitor.submit(upgrade, "Confirm")
    else:
        expect("Your saved card will be used" in upgrade.text, "the saved card is offered")
        visitor.submit(upgrade, "", form_id="card-form", terms=terms_ticked(upgrade))
    detail = visitor.get("/en/account/subscription/")
    status = detail.text.split('<section class="card">')[1].split("</section>")[0]
    expect(
        "Premium" in status,
        f"upgraded to Premium: {' '.join(re.sub('<[^>]+>', ' ', status).split())}",
    )

    before = len(sink.messages)
    cancel = visitor.get("/en/account/cancel/")
    summary = visitor.submit(cancel, "Continue")
    done = visitor.submit(summary, "Confirm my cancellation request")
    expect(done.status_code == 200, "cancelled in three clicks")
    acknowledgement = sink.wait_for(before + 1)[-1]
    expect(
        "Cancellation" in acknowledgement["Subject"],
        f"the cancellation is acknowledged by e-mail: {acknowledgement['Subject']!r}",
    )
    subjects = [m["Subject"] for m in sink.messages]
    print(f"  e-mails received over SMTP: {subjects}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="an empty or migrated PostgreSQL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="without a db number")
    args = parser.parse_args(argv)
    began = time.monotonic()

    web_port, stripe_port, smtp_port = free_port(), free_port(), free_port()
    base = f"http://{HOST}:{web_port}"
    stripe_url = f"http://{HOST}:{stripe_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "DJANGO_CSRF_TRUSTED_ORIGINS": base.replace("http://", "https://"),
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # the proxy redirects; loopback has no TLS
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": f"{args.redis}/12",
        "CACHE_URL": f"{args.redis}/13",
        "EMAIL_URL": f"smtp://{HOST}:{smtp_port}",
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_JS_URL": f"{stripe_url}/js.stripe.com/v3/",
        "SITE_URL": base,
        "DEFAULT_FROM_EMAIL": "e-confiance SAS <no-reply@portal.localhost>",
        "SUPPORT_EMAIL": "support@portal.localhost",
        "VENDOR_NAME": "e-confiance SAS",
        "TRUSTED_PROXY_COUNT": "0",
        "LOG_FORMAT": "json",
    }
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=False, capture_output=True)
    subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=False, capture_output=True)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    webhook = json.loads(manage(env, "stripe_local_webhook", "--base-url", base))

    sink = Sink()
    smtp = Controller(sink, hostname=HOST, port=smtp_port)
    smtp.start()
    log_dir = Path(tempfile.mkdtemp(prefix="smoke-production-"))
    try:
        with processes(log_dir) as started:
            start(
                started,
                "localstripe",
                [
                    sys.executable,
                    *localstripe_args(
                        stripe_port,
                        webhook,
                        "--state",
                        str(log_dir / "localstripe.pickle"),
                        "--from-scratch",
                    ),
                ],
                env,
                log_dir,
            )
            start(
                started,
                "web",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "portal.wsgi",
                    "--bind",
                    f"{HOST}:{web_port}",
                    "--workers",
                    "2",
                    # As the Procfile: threads wait on PostgreSQL, Redis and Stripe side by side.
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                ],
                env,
                log_dir,
            )
            worker_log = start(
                started,
                "worker",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "2",
                ],
                env,
                log_dir,
            )
            start(
                started,
                "beat",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(log_dir / "beat-schedule"),
                ],
                env,
                log_dir,
            )
            wait_http(f"{stripe_url}/_config/health")
            wait_http(f"{base}/en/", headers={"X-Forwarded-Proto": "https"})
            deadline = time.monotonic() + 60  # the worker answers pings once it is ready
            while "ready" not in worker_log.read_text() and time.monotonic() < deadline:
                time.sleep(0.3)
            try:
                journey(base, stripe_url, sink, worker_log)
            except Exception:
                for log in sorted(log_dir.glob("*.log")):
                    print(f"--- {log.name} (last 40 lines)", file=sys.stderr)
                    print("\n".join(log.read_text().splitlines()[-40:]), file=sys.stderr)
                raise
    finally:
        smtp.stop()
    print(f"production smoke passed in {time.monotonic() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
