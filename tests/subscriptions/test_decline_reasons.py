"""Issue 17: "Your card was declined." on a French page. Every decline code Stripe documents
(https://docs.stripe.com/declines/codes) has the portal's own reason, in the page's language."""

import pytest
from django.utils import translation

from subscriptions.models import DECLINE_REASONS, decline_reason

STRIPE_DECLINE_CODES = [
    "authentication_required",
    "approve_with_id",
    "call_issuer",
    "card_not_supported",
    "card_velocity_exceeded",
    "currency_not_supported",
    "do_not_honor",
    "do_not_try_again",
    "duplicate_transaction",
    "expired_card",
    "fraudulent",
    "generic_decline",
    "incorrect_number",
    "incorrect_cvc",
    "incorrect_pin",
    "incorrect_zip",
    "insufficient_funds",
    "invalid_account",
    "invalid_amount",
    "invalid_cvc",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "invalid_number",
    "invalid_pin",
    "issuer_not_available",
    "lost_card",
    "merchant_blacklist",
    "new_account_information_available",
    "no_action_taken",
    "not_permitted",
    "offline_pin_required",
    "online_or_offline_pin_required",
    "pickup_card",
    "pin_try_exceeded",
    "processing_error",
    "reenter_transaction",
    "restricted_card",
    "revocation_of_all_authorizations",
    "revocation_of_authorization",
    "security_violation",
    "service_not_allowed",
    "stolen_card",
    "stop_payment_order",
    "testmode_decline",
    "transaction_not_allowed",
    "try_again_later",
    "withdrawal_count_limit_exceeded",
]


def test_every_documented_decline_code_has_the_portals_own_reason():
    assert sorted(set(STRIPE_DECLINE_CODES) - set(DECLINE_REASONS)) == []


@pytest.mark.parametrize("code", STRIPE_DECLINE_CODES)
def test_each_reason_reads_in_the_pages_language(code):
    with translation.override("en"):
        english = decline_reason(code)
    with translation.override("fr"):
        french = decline_reason(code)
    assert english
    assert french
    assert french != english
    assert "card was declined" not in french.lower()
    assert "'" not in french  # typographic apostrophes


def test_an_unknown_code_falls_back_to_the_generic_reason():
    with translation.override("fr"):
        assert decline_reason("a_code_stripe_adds_later") == decline_reason("card_declined")
