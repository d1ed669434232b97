import re

import pytest
from playwright.sync_api import expect

from subscriptions.models import Subscription

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
