import re

import pytest
from playwright.sync_api import expect

from subscriptions.models import Subscription
from tests.e2e.conftest import VIEWPORTS, assert_no_sideways_scroll

LABELS = {
    "fr": (
        "Résilier votre contrat",
        "Continuer",
        "Confirmer ma demande de résiliation",
        "Votre demande de résiliation est enregistrée",
    ),
    "en": (
        "Cancel your contract",
        "Continue",
        "Confirm my cancellation request",
        "Your cancellation request is recorded",
    ),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_cancelling_takes_exactly_three_clicks_and_is_acknowledged_by_email(
    page, settle, login, subscribed_customer, customer, mailoutbox, transactional_db, language
):
    sub = subscribed_customer(language=language)
    login(customer, language=language)
    expect(page).to_have_url(re.compile(rf"/{language}/account/$"))
    link, continue_, confirm, done = LABELS[language]
    clicks = 0

    page.get_by_role("link", name=link).click()
    clicks += 1
    settle()
    expect(
        page.get_by_label({"fr": "Référence du contrat", "en": "Contract reference"}[language])
    ).to_have_value(sub.reference)
    page.get_by_role("button", name=continue_).click()
    clicks += 1
    settle()
    page.get_by_role("button", name=confirm).click()
    clicks += 1
    settle()

    expect(page.get_by_role("heading", level=1)).to_have_text(done)
    assert clicks == 3
    sub = Subscription.objects.get(pk=sub.pk)
    assert sub.cancel_at == sub.current_period_end
    acknowledgement = mailoutbox[-1]
    assert acknowledgement.to == [customer.email]
    assert sub.reference in acknowledgement.subject
    day = str(sub.cancel_at.astimezone().day)
    assert day in acknowledgement.body


def _focus_and_press(page, role, name, limit=80):
    """Tab through the page until `name` has the focus, then press Enter: no mouse."""
    target = page.get_by_role(role, name=name)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            with page.expect_navigation():
                page.keyboard.press("Enter")
            return
    raise AssertionError(f"{name!r} cannot be reached with the Tab key")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_cancelling_with_the_keyboard_only(
    page, settle, login, subscribed_customer, customer, transactional_db, language
):
    sub = subscribed_customer(language=language)
    login(customer, language=language)
    link, continue_, confirm, done = LABELS[language]
    _focus_and_press(page, "link", link)
    settle()
    _focus_and_press(page, "button", continue_)
    settle()
    _focus_and_press(page, "button", confirm)
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text(done)
    sub = Subscription.objects.get(pk=sub.pk)
    assert sub.cancel_at == sub.current_period_end


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_cancelling_and_undoing_without_javascript(
    browser,
    live_server,
    subscribed_customer,
    customer,
    mailoutbox,
    transactional_db,
    language,
    viewport,
):
    sub = subscribed_customer(language=language)
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport=VIEWPORTS[viewport]
    )
    page = context.new_page()
    try:
        page.goto(f"/{language}/auth/login/")
        page.locator("input[name=login]").fill(customer.email)
        page.locator("input[name=password]").fill("correct horse battery staple")
        # Without JavaScript each click is a page load: wait for it before reading the page.
        with page.expect_navigation():
            page.locator("form button[type=submit]").last.click()
        link, continue_, confirm, done = LABELS[language]
        with page.expect_navigation():
            page.get_by_role("link", name=link).click()
        with page.expect_navigation():
            page.get_by_role("button", name=continue_).click()
        assert_no_sideways_scroll(page)
        with page.expect_navigation():
            page.get_by_role("button", name=confirm).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(done)
        assert_no_sideways_scroll(page)
        assert Subscription.objects.get(pk=sub.pk).cancel_at == sub.current_period_end
        page.goto(f"/{language}/account/subscription/")
        assert_no_sideways_scroll(page)
        keep = {"fr": "Annuler la résiliation", "en": "Keep my subscription"}[language]
        with page.expect_navigation():  # the form's POST answered, not only sent
            page.get_by_role("button", name=keep).click()
        assert Subscription.objects.get(pk=sub.pk).cancel_at is None
    finally:
        context.close()
