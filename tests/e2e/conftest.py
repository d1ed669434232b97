"""Browser journeys: Playwright drives Debian's chromium against pytest-django's live server.

Every page a journey loads must pass axe-core without serious or critical violations:
`page_checked` (the `settle` fixture) runs axe on each newly loaded page, and a journey that
leaves a loaded page unchecked fails at teardown.

Every journey also fails on any Content-Security-Policy violation: an init script reports each
`securitypolicyviolation` event to the test, and the console's CSP errors are collected too
(a violation in a frame, or one the event misses). `settle` checks them, and so does teardown.
"""

import os
import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BLOCKING_IMPACTS = {"serious", "critical"}
# The card fields belong to the payment provider (an iframe with real Stripe.js; unlabelled
# plain inputs with localstripe's fake): they are not the portal's markup.
AXE_CONTEXT = {"exclude": [["#card-element"]]}
# axe's CSSOM preload re-inserts fetched stylesheets (the admin's @import) as inline <style>
# elements: the CSP rightly refuses them, and they are the checker's, not the page's.
AXE_OPTIONS = {"resultTypes": ["violations"], "preload": False}
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"} at ` +
      `${event.sourceFile || document.location.href}:${event.lineNumber} ` +
      `(${event.disposition}) ${event.sample || ""}`
  );
});
"""

# Playwright's sync API runs an event loop in this thread; the live server's ORM calls
# happen in its own thread, the test's own ORM calls here are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class CSPWatcher:
    """Every CSP violation a page reports, from the event and from the console."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def event(self, report: str) -> None:
        self.violations.append(report)

    def console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.violations.append(f"console: {message.text}")

    def assert_none(self, url: str) -> None:
        found, self.violations = self.violations, []
        assert not found, f"Content-Security-Policy violations on {url}:\n" + "\n".join(found)


# Issue 17: every journey runs on a desktop and on a 390 x 844 phone.
VIEWPORTS = {"1280px": {"width": 1280, "height": 800}, "390px": {"width": 390, "height": 844}}
PHONE_WIDTH = 390
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest("[data-scrolls]"))
    .slice(0, 5)
    .map(e => e.tagName + "." + e.className + ": " + e.textContent.trim().slice(0, 40));
  return [document.documentElement.scrollWidth - width, out];
}"""


def assert_no_sideways_scroll(page) -> None:
    """On a phone, no page of the customer area is wider than the screen (the staff admin is
    Django's own and not for phones)."""
    viewport = page.viewport_size
    if not viewport or viewport["width"] > PHONE_WIDTH or "/admin/" in page.url:
        return
    page.wait_for_load_state()  # a page still loading has no body to measure
    wider, out = page.evaluate(SIDEWAYS)
    assert wider <= 0, f"{page.url} scrolls sideways by {wider}px on a phone: {out}"


class AccessibilityChecker:
    def __init__(self) -> None:
        self.axe = Axe()
        self.unchecked: list[str] = []
        self.checked: list[str] = []

    def loaded(self, url: str) -> None:
        self.unchecked.append(url)

    def check(self, page) -> None:
        page.wait_for_load_state("load")
        assert_no_sideways_scroll(page)
        results = self.axe.run(page, context=AXE_CONTEXT, options=AXE_OPTIONS)
        blocking = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(n["target"][0] for n in v["nodes"][:3])
            for v in results.response["violations"]
            if v["impact"] in BLOCKING_IMPACTS
        ]
        assert not blocking, f"Accessibility violations on {page.url}:\n" + "\n".join(blocking)
        self.checked.append(page.url)
        self.unchecked.clear()


@pytest.fixture(params=list(VIEWPORTS))
def page(browser, live_server, request):
    context = browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport=VIEWPORTS[request.param]
    )
    csp = CSPWatcher()
    context.expose_function("__cspViolation", csp.event)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", csp.console)
    checker = AccessibilityChecker()
    page.on("load", lambda p: checker.loaded(p.url))
    page.a11y = checker
    page.csp = csp
    yield page
    unchecked = list(checker.unchecked)
    url = page.url
    context.close()
    if not getattr(request.node, "rep_call_failed", False):
        csp.assert_none(url)
        assert not unchecked, f"Pages loaded without an accessibility check: {unchecked}"


@pytest.fixture
def settle(page):
    """Wait for the page that just loaded and run axe on it."""

    def _settle():
        page.a11y.check(page)
        page.csp.assert_none(page.url)
        return page

    return _settle


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call_failed = report.failed
    return report


@pytest.fixture
def email_link(mailoutbox):
    """The first link containing `fragment` in the newest e-mail sent to `to`."""

    def _link(to, fragment):
        messages = [m for m in mailoutbox if to in m.to]
        assert messages, f"no e-mail to {to}"
        match = re.search(rf"https?://\S*{re.escape(fragment)}\S*", messages[-1].body)
        assert match, f"no link with {fragment!r} in:\n{messages[-1].body}"
        return match.group(0)

    return _link


@pytest.fixture
def login(page, settle):
    """Sign in through the login page, as a customer would."""

    def _login(user, language="en", password="correct horse battery staple"):
        page.goto(f"/{language}/auth/login/")
        settle()
        page.locator("input[name=login]").fill(user.email)
        page.locator("input[name=password]").fill(password)
        page.locator("form button[type=submit]").last.click()
        settle()
        if "/auth/2fa/authenticate/" in page.url:  # staff: TOTP is mandatory
            from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

            from tests.conftest import STAFF_TOTP_SECRET

            if time.time() % 30 > 25:  # the code could expire on its way: take the next one
                time.sleep(30 - time.time() % 30 + 0.1)
            counter = int(time.time()) // 30
            code = page.locator("input[name=code]")
            code.fill(format_hotp_value(hotp_value(STAFF_TOTP_SECRET, counter)))
            page.locator("form", has=code).locator("button[type=submit]").first.click()
            settle()
            assert "/auth/2fa/authenticate/" not in page.url, "the TOTP code was refused"

    return _login


@pytest.fixture
def fill_card(page):
    """Type a card into the payment provider's fields (localstripe's fake Stripe.js)."""

    def _fill(number="4242424242424242", exp_month="12", exp_year="30", cvc="123", zip_="75002"):
        card = page.locator("#card-element")
        for placeholder, value in [
            ("number", number),
            ("exp_month", exp_month),
            ("exp_year", exp_year),
            ("cvc", cvc),
            ("postal_code", zip_),
        ]:
            card.get_by_placeholder(placeholder).fill(value)

    return _fill


@pytest.fixture
def subscribed_customer(customer, catalog, add_card, stripe_server):
    """A customer with a card and a paid subscription, created through the services."""
    from django.utils import timezone

    from subscriptions.models import Price
    from subscriptions.services.checkout import subscribe

    def _subscribe(code="pro", interval="month", language="fr", at=None):
        customer.language = language
        customer.save(update_fields=["language"])
        add_card(customer)
        price = Price.objects.get(plan__code=code, interval=interval, currency="EUR")
        return subscribe(user=customer, price=price, now=at or timezone.now())

    return _subscribe


@pytest.fixture
def staff_member(db):
    """A staff member of a group (Support or Billing), with a verified e-mail, in English."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth.models import Group

    from tests.conftest import staff_totp
    from tests.factories import UserFactory

    def _staff(group="Billing"):
        staff = UserFactory(is_staff=True, language="en")
        staff.groups.add(Group.objects.get(name=group))
        EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
        return staff_totp(staff)

    return _staff
