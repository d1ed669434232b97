from playwright.sync_api import expect

from accounts.models import User

PASSWORD = "une phrase de passe assez longue 2026"


def test_signup_in_french_verify_from_the_outbox_land_in_the_area_and_switch_to_english(
    page, settle, email_link, db
):
    page.goto("/")
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text("Formules et tarifs")

    page.get_by_role("link", name="Créer un compte").click()
    settle()
    page.get_by_label("Nom complet").fill("Camille Martin")
    page.get_by_label("Entreprise").fill("Martin SARL")
    page.get_by_label("Courriel").fill("camille@example.com")
    page.get_by_label("Mot de passe :", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    page.get_by_role("button", name="Création de compte").click()
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre adresse e-mail")

    page.goto(email_link("camille@example.com", "/auth/confirm-email/"))
    settle()
    page.get_by_role("button", name="Confirmer").click()
    settle()
    expect(page).to_have_url(f"{page.url.split('/fr/')[0]}/fr/account/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Camille")
    expect(page.get_by_role("link", name="Résilier votre contrat")).to_be_visible()

    page.get_by_role("button", name="English").click()
    settle()
    expect(page).to_have_url(f"{page.url.split('/en/')[0]}/en/account/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello Camille")
    expect(page.get_by_role("link", name="Cancel your contract")).to_be_visible()
    assert User.objects.get(email="camille@example.com").language == "en"
