"""The card page in the customer's language, and honest about JavaScript."""

from playwright.sync_api import expect


def test_a_card_refused_at_entry_is_explained_in_french(
    page, settle, login, fill_card, customer, catalog, stripe_server, transactional_db
):
    login(customer, language="fr")
    page.goto("/fr/account/card/")
    settle()
    fill_card(number="4000000000000002")  # declined as soon as it is typed in
    page.get_by_role("button", name="Enregistrer cette carte").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        "Cette carte n’a pas pu être enregistrée : la banque a refusé le paiement."
    )
    assert "declined" not in page.locator("main").inner_text()
    expect(page.get_by_text("La saisie d’une carte demande JavaScript")).to_be_hidden()
    settle()


def test_without_javascript_the_card_page_says_what_to_do(
    browser, live_server, customer, catalog, stripe_server, transactional_db
):
    context = browser.new_context(
        base_url=live_server.url, locale="fr-FR", java_script_enabled=False
    )
    page = context.new_page()
    try:
        page.goto("/fr/auth/login/")
        page.locator("input[name=login]").fill(customer.email)
        page.locator("input[name=password]").fill("correct horse battery staple")
        page.locator("form button[type=submit]").last.click()
        page.goto("/fr/account/card/")
        expect(page.get_by_text("Entering a card needs JavaScript")).to_have_count(0)
        expect(page.get_by_text("La saisie d’une carte demande JavaScript")).to_be_visible()
        expect(page.get_by_role("link", name="écrivez-nous")).to_be_visible()
        # No button that could only end in "this card could not be saved".
        expect(page.get_by_role("button", name="Enregistrer cette carte")).to_have_count(0)
    finally:
        context.close()
