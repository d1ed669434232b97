import pytest
from playwright.sync_api import expect

from subscriptions import entitlements
from subscriptions.models import Subscription, SubscriptionStatus

PASSWORD = "une phrase de passe assez longue 2026"

WORDS = {
    "fr": {
        "trial": "Essai gratuit 15 jours",
        "name": "Nom complet",
        "email": "Courriel",
        "password": "Mot de passe :",
        "again": "Mot de passe (confirmation)",
        "sign_up": "Création de compte",
        "confirm": "Confirmer",
        "heading": "Essayez Pro gratuitement pendant 15 jours",
        "no_card": "Aucune carte n’est demandée et rien n’est facturé.",
        "start": "Commencer mon essai gratuit",
        "started": "Votre essai gratuit de 15 jours a commencé.",
        "left": "Essai gratuit de Pro : 15 jours restants",
    },
    "en": {
        "trial": "15-day free trial",
        "name": "Full name",
        "email": "E-mail",
        "password": "Password:",
        "again": "Password (again)",
        "sign_up": "Sign up",
        "confirm": "Confirm my e-mail address",
        "heading": "Try Pro free for 15 days",
        "no_card": "No card is needed and nothing is charged.",
        "start": "Start my free trial",
        "started": "Your 15-day free trial has started.",
        "left": "Free trial of Pro: 15 days left",
    },
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_visitor_starts_a_15_day_trial_without_a_card(
    page, settle, email_link, catalog, transactional_db, language
):
    words = WORDS[language]
    page.goto(f"/{language}/")
    settle()
    page.locator("#plan-pro").get_by_role("link", name=words["trial"]).click()
    settle()
    page.get_by_label(words["name"]).fill("Léa Dupont")
    page.get_by_label(words["email"]).fill("lea@example.com")
    page.get_by_label(words["password"], exact=True).fill(PASSWORD)
    page.get_by_label(words["again"]).fill(PASSWORD)
    page.get_by_role("button", name=words["sign_up"]).click()
    settle()

    page.goto(email_link("lea@example.com", "/auth/confirm-email/"))
    settle()
    page.get_by_role("button", name=words["confirm"]).click()
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["heading"])
    expect(page.get_by_text(words["no_card"])).to_be_visible()
    page.get_by_role("button", name=words["start"]).click()
    settle()

    expect(page.get_by_text(words["started"])).to_be_visible()
    expect(page.get_by_text(words["left"])).to_be_visible()
    subscription = Subscription.objects.get(user__email="lea@example.com")
    assert subscription.status == SubscriptionStatus.TRIALING
    assert subscription.user.language == language
    assert not entitlements.has_feature(subscription.user, "sms_reminders")
    assert entitlements.has_feature(subscription.user, "custom_branding")
