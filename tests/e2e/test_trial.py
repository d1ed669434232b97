from playwright.sync_api import expect

from subscriptions import entitlements
from subscriptions.models import Subscription, SubscriptionStatus

PASSWORD = "une phrase de passe assez longue 2026"


def test_a_visitor_starts_a_15_day_trial_in_french_without_a_card(
    page, settle, email_link, catalog, transactional_db
):
    page.goto("/fr/")
    settle()
    page.locator("#plan-pro").get_by_role("link", name="Essai gratuit 15 jours").click()
    settle()
    page.get_by_label("Nom complet").fill("Léa Dupont")
    page.get_by_label("Courriel").fill("lea@example.com")
    page.get_by_label("Mot de passe :", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    page.get_by_role("button", name="Création de compte").click()
    settle()

    page.goto(email_link("lea@example.com", "/auth/confirm-email/"))
    settle()
    page.get_by_role("button", name="Confirmer").click()
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Essayez Pro gratuitement pendant 15 jours"
    )
    expect(page.get_by_text("Aucune carte n’est demandée et rien n’est facturé.")).to_be_visible()
    page.get_by_role("button", name="Commencer mon essai gratuit").click()
    settle()

    expect(page.get_by_text("Votre essai gratuit de 15 jours a commencé.")).to_be_visible()
    expect(page.get_by_text("Essai gratuit de Pro : 15 jours restants")).to_be_visible()
    subscription = Subscription.objects.get(user__email="lea@example.com")
    assert subscription.status == SubscriptionStatus.TRIALING
    assert not entitlements.has_feature(subscription.user, "sms_reminders")
    assert entitlements.has_feature(subscription.user, "custom_branding")
