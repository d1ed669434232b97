"""Customer e-mails (001, 002, 004): each one states its facts, in the customer's language.

The `*_in_french` tests assert the French wording from var/i18n/emails.json: they pass once
those translations are merged into locale/fr (devtools/i18n.py apply) and compiled.
"""

from datetime import UTC, datetime

import pytest

from subscriptions.emails import render
from subscriptions.models import (
    BillingAccount,
    Invoice,
    InvoiceKind,
    PaymentAttempt,
    Price,
    Subscription,
    SubscriptionStatus,
)

SITE = "http://127.0.0.1:8000"
TEMPLATES = [
    "trial_started",
    "trial_ending",
    "trial_expired",
    "subscription_scheduled",
    "receipt",
    "payment_failed",
    "renewal_reminder",
]

# Mid-morning UTC: the same calendar day in Paris, whatever the season.
TRIAL_START = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
TRIAL_END = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PURGE = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
PERIOD_END = datetime(2027, 1, 1, 10, 0, tzinfo=UTC)
NEXT_PERIOD_END = datetime(2027, 2, 1, 10, 0, tzinfo=UTC)
RETRY = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _render(template, user, language="en", **context):
    return render(template, {"user": user, **context}, language=language, tz="Europe/Paris")


def _parts(message):
    """Facts must be in the text and in the HTML version alike."""
    return [message["text"], message["html"]]


@pytest.fixture
def pro_monthly(catalog):
    # 49,00 € + 20 % VAT = 58,80 € charged.
    return Price.objects.get(plan=catalog["pro"], interval="month", currency="EUR")


@pytest.fixture
def trial(customer, catalog):
    return Subscription.objects.create(
        user=customer,
        plan=catalog["pro"],
        status=SubscriptionStatus.TRIALING,
        currency="EUR",
        trial_started_at=TRIAL_START,
        trial_ends_at=TRIAL_END,
        next_billing_at=TRIAL_END,
    )


@pytest.fixture
def expired(customer, catalog):
    return Subscription.objects.create(
        user=customer,
        plan=catalog["pro"],
        status=SubscriptionStatus.EXPIRED,
        currency="EUR",
        trial_started_at=TRIAL_START,
        trial_ends_at=TRIAL_END,
        ended_at=TRIAL_END,
        purge_at=PURGE,
    )


@pytest.fixture
def scheduled(trial, pro_monthly):
    trial.price = pro_monthly
    trial.save(update_fields=["price"])
    return trial


@pytest.fixture
def active(customer, pro_monthly):
    return Subscription.objects.create(
        user=customer,
        plan=pro_monthly.plan,
        price=pro_monthly,
        status=SubscriptionStatus.ACTIVE,
        currency="EUR",
        first_paid_at=TRIAL_END,
        anchor_at=TRIAL_END,
        current_period_start=TRIAL_END,
        current_period_end=PERIOD_END,
        next_billing_at=PERIOD_END,
    )


def _invoice(subscription, *, kind=InvoiceKind.FIRST, number="2026-000042", total=5880, **extra):
    return Invoice.objects.create(
        number=number,
        user=subscription.user,
        subscription=subscription,
        kind=kind,
        currency="EUR",
        subtotal=total * 10 // 12,
        tax=total - total * 10 // 12,
        total=total,
        tax_rate_bps=2000,
        period_start=TRIAL_END,
        period_end=PERIOD_END,
        issued_at=TRIAL_END,
        **extra,
    )


@pytest.fixture
def invoice(active):
    return _invoice(active)


def _attempt(invoice, *, message="Your card was declined."):
    return PaymentAttempt.objects.create(
        invoice=invoice,
        number=1,
        status="failed",
        amount=invoice.total,
        currency=invoice.currency,
        failure_code="card_declined" if message else "",
        failure_message=message,
        trigger="renewal",
    )


def _failed_context(invoice, *, suspended=False, needs_authentication=False, message="x"):
    return {
        "subscription": invoice.subscription,
        "invoice": invoice,
        "attempt": _attempt(invoice, message=message),
        "suspended": suspended,
        "needs_authentication": needs_authentication,
    }


@pytest.fixture
def every_email(trial, pro_monthly):
    """(template, context) for every e-mail, built on one subscription."""

    def build(name):
        sub = Subscription.objects.get(pk=trial.pk)
        if name in ("trial_started", "trial_ending", "subscription_scheduled"):
            if name == "subscription_scheduled":
                sub.price = pro_monthly
            return {"subscription": sub}
        if name == "trial_expired":
            sub.purge_at = PURGE
            return {"subscription": sub}
        sub.current_period_end = PERIOD_END
        if name == "renewal_reminder":
            return {
                "subscription": sub,
                "plan": sub.plan,
                "amount": 5880,
                "total": 5880,
                "from_credit": 0,
                "due": PERIOD_END,
            }
        inv = _invoice(sub, number=f"2026-{len(name):06d}")
        if name == "receipt":
            return {"subscription": sub, "invoice": inv, "reactivated": False}
        return _failed_context(inv)

    return build


# --- every e-mail ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_email_has_a_subject_line_a_text_and_an_html_version(
    every_email, customer, name, language
):
    customer.name = "Ada Lovelace"
    message = _render(name, customer, language, **every_email(name))
    assert message["subject"]
    assert "\n" not in message["subject"]
    assert "{%" not in message["text"] + message["html"]
    assert "Ada," in message["text"]
    assert "Ada," in message["html"]
    assert f'<html lang="{language}">' in message["html"]
    assert "e-confiance SAS" in message["html"]
    assert "<" not in message["text"]
    # No run of blank lines left behind by template tags.
    assert "\n\n\n" not in message["text"]


def test_text_version_is_not_html_escaped_but_the_html_version_is(trial, customer):
    customer.name = "Zoë O'Brien <b>"
    message = _render("trial_started", customer, subscription=trial)
    assert "Hello Zoë," in message["text"]
    customer.name = "O'Brien & <b>Co</b>"
    message = _render("trial_started", customer, subscription=trial)
    assert "Hello O'Brien," in message["text"]
    assert "Hello O&#x27;Brien," in message["html"]
    customer.name = "<b>Eve</b> Smith"
    message = _render("trial_started", customer, subscription=trial)
    assert "<b>Eve</b>" not in message["html"]
    assert "&lt;b&gt;Eve&lt;/b&gt;" in message["html"]


def test_links_follow_the_language_of_the_email(trial, customer):
    en = _render("trial_started", customer, "en", subscription=trial)
    fr = _render("trial_started", customer, "fr", subscription=trial)
    assert f"{SITE}/en/account/subscription/" in en["text"]
    assert f'href="{SITE}/en/account/subscription/"' in en["html"]
    assert f"{SITE}/fr/account/subscription/" in fr["text"]
    assert f'href="{SITE}/fr/account/subscription/"' in fr["html"]


def test_dates_are_shown_in_the_customer_time_zone(customer, catalog):
    # 23:30 UTC on 30 November is already 1 December in Paris, still 30 November in New York.
    sub = Subscription.objects.create(
        user=customer,
        plan=catalog["pro"],
        status=SubscriptionStatus.TRIALING,
        currency="EUR",
        trial_ends_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
    )
    context = {"user": customer, "subscription": sub}
    paris = render("trial_ending", context, language="en", tz="Europe/Paris")
    new_york = render("trial_ending", context, language="en", tz="America/New_York")
    assert "December 1, 2026" in paris["subject"]
    assert "November 30, 2026" in new_york["subject"]


# --- 1. trial started (001) ----------------------------------------------------------------------


def test_trial_started(trial, customer):
    message = _render("trial_started", customer, subscription=trial)
    assert message["subject"] == "Your free trial has started"
    for part in _parts(message):
        assert (
            "Your free trial of the Pro plan has started. It runs until December 1, 2026." in part
        )
        assert "No card is needed" in part
        assert "everything is available except SMS reminders" in part
        assert f"{SITE}/en/account/subscription/" in part
    assert f"Choose a plan: {SITE}/en/account/subscription/" in message["text"]


def test_trial_started_in_french(trial, customer):
    message = _render("trial_started", customer, "fr", subscription=trial)
    assert message["subject"] == "Votre essai gratuit a commencé"
    for part in _parts(message):
        assert "Votre essai gratuit de la formule Pro a commencé" in part
        assert "jusqu\u2019au 1 décembre 2026" in part
        assert "sauf les rappels par SMS" in part
        assert f"{SITE}/fr/account/subscription/" in part
    assert f"Choisir une formule : {SITE}/fr/account/subscription/" in message["text"]


# --- 2. trial ending (001) -----------------------------------------------------------------------


def test_trial_ending_without_a_plan_warns_about_read_only_and_deletion(trial, customer):
    message = _render("trial_ending", customer, subscription=trial)
    assert message["subject"] == "Your free trial ends on December 1, 2026"
    for part in _parts(message):
        assert "Your free trial ends on December 1, 2026." in part
        assert "Subscribe before then to keep your data and settings." in part
        assert "read-only" in part
        assert "then it is deleted" in part
        assert f"{SITE}/en/account/subscription/" in part
        assert "charged" not in part


def test_trial_ending_states_the_grace_when_it_is_given(trial, customer):
    message = _render("trial_ending", customer, subscription=trial, purge_grace_days=7)
    for part in _parts(message):
        assert "until it is deleted, 7 days after the end of the trial" in part
    message = _render("trial_ending", customer, subscription=trial, purge_grace_days=1)
    assert "until it is deleted, 1 day after the end of the trial" in message["text"]


def test_trial_ending_with_a_plan_chosen_announces_the_first_charge(scheduled, customer):
    message = _render("trial_ending", customer, subscription=scheduled)
    for part in _parts(message):
        assert "Your free trial ends on December 1, 2026." in part
        assert "You have chosen the Pro plan" in part
        assert "your card will be charged €58.80 then" in part
        assert "Your data and settings are kept." in part
        assert "read-only" not in part


def test_trial_ending_in_french(scheduled, customer):
    scheduled.price = None
    message = _render("trial_ending", customer, "fr", subscription=scheduled, purge_grace_days=7)
    assert message["subject"] == "Votre essai gratuit se termine le 1 décembre 2026"
    for part in _parts(message):
        assert "Abonnez-vous d\u2019ici là pour conserver vos données et vos réglages." in part
        assert "lecture seule" in part
        assert "7 jours après la fin de l\u2019essai" in part
        assert f"{SITE}/fr/account/subscription/" in part
    scheduled.refresh_from_db()
    message = _render("trial_ending", customer, "fr", subscription=scheduled)
    for part in _parts(message):
        assert "Vous avez choisi la formule Pro" in part
        assert "débitée de 58,80\xa0€" in part
        assert "Vos données et vos réglages sont conservés." in part


# --- 3. trial expired (001) ----------------------------------------------------------------------


def test_trial_expired_says_read_only_and_the_deletion_date(expired, customer):
    message = _render("trial_expired", customer, subscription=expired)
    assert message["subject"] == "Your free trial has ended"
    for part in _parts(message):
        assert "your account is now read-only" in part
        assert "your data will be deleted on December 8, 2026" in part
        assert "export your data" in part
        assert "subscribe" in part
        assert f"{SITE}/en/account/subscription/" in part


def test_trial_expired_in_french(expired, customer):
    message = _render("trial_expired", customer, "fr", subscription=expired)
    assert message["subject"] == "Votre essai gratuit est terminé"
    for part in _parts(message):
        assert "lecture seule" in part
        assert "vos données seront supprimées le 8 décembre 2026" in part
        assert "exporter vos données" in part
        assert f"{SITE}/fr/account/subscription/" in part


# --- 4. plan chosen during the trial (001) ------------------------------------------------------


def test_subscription_scheduled(scheduled, customer):
    message = _render("subscription_scheduled", customer, subscription=scheduled)
    assert message["subject"] == "Your Pro plan is confirmed"
    for part in _parts(message):
        assert "Thank you for choosing the Pro plan." in part
        assert "continues until December 1, 2026. Billing starts on that date." in part
        assert "Your card will be charged €58.80 then." in part
        assert "Your data and settings are kept." in part
        assert f"{SITE}/en/account/subscription/" in part


def test_subscription_scheduled_in_french(scheduled, customer):
    message = _render("subscription_scheduled", customer, "fr", subscription=scheduled)
    assert message["subject"] == "Votre formule Pro est confirmée"
    for part in _parts(message):
        assert "Merci d\u2019avoir choisi la formule Pro." in part
        assert "jusqu\u2019au 1 décembre 2026" in part
        assert "débitée de 58,80\xa0€" in part
        assert "Vos données et vos réglages sont conservés." in part
        assert f"{SITE}/fr/account/subscription/" in part


# --- 5. receipt (002, 004) -----------------------------------------------------------------------


def test_receipt_gives_amount_number_period_next_renewal_and_link(active, invoice, customer):
    message = _render("receipt", customer, subscription=active, invoice=invoice, reactivated=False)
    assert message["subject"] == "Payment received: invoice 2026-000042"
    for part in _parts(message):
        assert "your payment of €58.80 for invoice 2026-000042" in part
        assert "Period covered: December 1, 2026 to January 1, 2027." in part
        assert "Your subscription renews on January 1, 2027, for €58.80." in part
        assert f"{SITE}/en/account/invoices/2026-000042/" in part
        assert "active again" not in part


def test_receipt_after_reactivation_says_so(active, invoice, customer):
    message = _render("receipt", customer, subscription=active, invoice=invoice, reactivated=True)
    for part in _parts(message):
        assert "Your subscription is active again" in part


def test_receipt_for_a_proration_gives_the_renewal_date_only(active, customer):
    proration = _invoice(active, kind=InvoiceKind.PRORATION, number="2026-000043", total=1500)
    message = _render(
        "receipt", customer, subscription=active, invoice=proration, reactivated=False
    )
    for part in _parts(message):
        assert "your payment of €15.00 for invoice 2026-000043" in part
        assert "Your subscription renews on January 1, 2027." in part
        assert "for €15.00." not in part


def test_receipt_when_cancelled_says_it_will_not_renew(active, invoice, customer):
    active.cancel_at = PERIOD_END
    message = _render("receipt", customer, subscription=active, invoice=invoice, reactivated=False)
    for part in _parts(message):
        assert "Your subscription ends on January 1, 2027 and will not be renewed." in part
        assert "renews on" not in part


def test_receipt_in_french(active, invoice, customer):
    message = _render(
        "receipt", customer, "fr", subscription=active, invoice=invoice, reactivated=True
    )
    assert message["subject"] == "Paiement reçu : facture 2026-000042"
    for part in _parts(message):
        assert "votre paiement de 58,80\xa0€ pour la facture 2026-000042" in part
        assert "du 1 décembre 2026 au 1 janvier 2027" in part
        assert "sera renouvelé le 1 janvier 2027, pour un montant de 58,80\xa0€" in part
        assert "de nouveau actif" in part
        assert f"{SITE}/fr/account/invoices/2026-000042/" in part


# --- 6. payment failed (004) ---------------------------------------------------------------------


def test_payment_failed_with_a_retry_ahead(invoice, customer):
    invoice.next_retry_at = RETRY
    context = _failed_context(invoice, message="Your card was declined.")
    message = _render("payment_failed", customer, **context)
    assert message["subject"] == "Payment failed for invoice 2026-000042"
    for part in _parts(message):
        assert "payment of €58.80 for invoice 2026-000042" in part
        assert "Reason: the bank declined the payment" in part
        assert "We will try again on December 4, 2026." in part
        assert f"{SITE}/en/account/invoices/2026-000042/pay/" in part
        assert "suspended" not in part
    pay = f"{SITE}/en/account/invoices/2026-000042/pay/"
    assert f"Update my card and pay: {pay}" in message["text"]


def test_payment_failed_without_a_reason_says_none(invoice, customer):
    invoice.next_retry_at = RETRY
    message = _render("payment_failed", customer, **_failed_context(invoice, message=""))
    assert "Reason" not in message["text"] + message["html"]


def test_payment_failed_after_the_last_retry_announces_the_suspension(invoice, customer):
    message = _render("payment_failed", customer, **_failed_context(invoice, suspended=True))
    assert message["subject"] == "Your subscription is suspended: invoice 2026-000042 is unpaid"
    for part in _parts(message):
        assert "your subscription is suspended" in part
        assert "billing, invoices, data export and support remain available" in part
        assert "your subscription is reactivated" in part
        assert "try again" not in part
        assert f"{SITE}/en/account/invoices/2026-000042/pay/" in part


def test_payment_failed_needing_authentication_asks_to_confirm(invoice, customer):
    context = _failed_context(invoice, needs_authentication=True, message="")
    message = _render("payment_failed", customer, **context)
    assert message["subject"] == "Please confirm the payment of invoice 2026-000042"
    for part in _parts(message):
        assert "Your bank asks you to confirm this payment" in part
        assert f"{SITE}/en/account/invoices/2026-000042/pay/" in part
        assert "suspended" not in part
    assert f"Confirm the payment: {SITE}/en/account/invoices/2026-000042/pay/" in message["text"]


def test_payment_failed_in_french(invoice, customer):
    invoice.next_retry_at = RETRY
    message = _render("payment_failed", customer, "fr", **_failed_context(invoice, message=""))
    assert message["subject"] == "Échec du paiement de la facture 2026-000042"
    for part in _parts(message):
        assert "paiement de 58,80\xa0€ pour la facture 2026-000042" in part
        assert "Nous réessaierons le 4 décembre 2026." in part
        assert f"{SITE}/fr/account/invoices/2026-000042/pay/" in part
    suspended = _render(
        "payment_failed",
        customer,
        "fr",
        subscription=invoice.subscription,
        invoice=invoice,
        attempt=None,
        suspended=True,
        needs_authentication=False,
    )
    assert suspended["subject"] == (
        "Votre abonnement est suspendu : la facture 2026-000042 est impayée"
    )
    assert "votre abonnement est donc suspendu" in suspended["text"]
    authentication = _render(
        "payment_failed",
        customer,
        "fr",
        subscription=invoice.subscription,
        invoice=invoice,
        attempt=None,
        suspended=False,
        needs_authentication=True,
    )
    assert authentication["subject"] == "Veuillez confirmer le paiement de la facture 2026-000042"
    assert "Votre banque vous demande de confirmer ce paiement" in authentication["text"]


# --- 7. renewal reminder (002, 004) --------------------------------------------------------------


def test_renewal_reminder_gives_date_amount_card_and_cancel_link(active, customer):
    BillingAccount.objects.create(user=customer, card_brand="visa", card_last4="4242")
    message = _render(
        "renewal_reminder",
        customer,
        subscription=active,
        plan=active.plan,
        amount=5880,
        due=PERIOD_END,
    )
    assert message["subject"] == "Your Pro subscription renews on January 1, 2027"
    for part in _parts(message):
        assert "renews automatically on January 1, 2027" in part
        assert "€58.80 will be charged to your card ending in 4242." in part
        assert "cancel before that date" in part
        assert f"{SITE}/en/account/cancel/" in part


def test_renewal_reminder_without_card_details(active, customer):
    message = _render(
        "renewal_reminder",
        customer,
        subscription=active,
        plan=active.plan,
        amount=5880,
        due=NEXT_PERIOD_END,
    )
    for part in _parts(message):
        assert "€58.80 will be charged to your saved card." in part
        assert "February 1, 2027" in part


def test_renewal_reminder_in_french(active, customer):
    BillingAccount.objects.create(user=customer, card_brand="visa", card_last4="4242")
    message = _render(
        "renewal_reminder",
        customer,
        "fr",
        subscription=active,
        plan=active.plan,
        amount=5880,
        due=PERIOD_END,
    )
    assert message["subject"] == "Votre abonnement Pro sera renouvelé le 1 janvier 2027"
    for part in _parts(message):
        assert "sera renouvelé automatiquement le 1 janvier 2027" in part
        assert "58,80\xa0€ sur votre carte se terminant par 4242" in part
        assert "résiliez avant cette date" in part
        assert f"{SITE}/fr/account/cancel/" in part
    assert f"Résilier votre contrat : {SITE}/fr/account/cancel/" in message["text"]
