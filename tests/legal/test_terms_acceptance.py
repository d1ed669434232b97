"""Issue 17, 004: subscribing records which version of the terms the customer accepted, and
when, in the subscription's own transaction; without the box ticked nothing happens."""

import json
import zipfile
from datetime import UTC, datetime

import pytest
import stripe
import time_machine
from django.utils import timezone

from legal.models import TermsAcceptance
from privacy import services as privacy
from subscriptions.models import BillingAccount, Invoice, Price, Subscription, SubscriptionStatus
from subscriptions.services import checkout
from subscriptions.services.cards import card_setup_start
from subscriptions.services.trials import trial_start
from tests.conftest import shown_charge

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pro_monthly():
    return Price.objects.get(plan__code="pro", interval="month", currency="EUR")


def confirmed_setup_intent(user):
    setup_intent_id = card_setup_start(user=user).split("_secret_")[0]
    stripe.SetupIntent.confirm(setup_intent_id, payment_method="pm_card_visa")
    return setup_intent_id


@pytest.mark.parametrize(
    ("language", "label"),
    [
        (
            "en",
            'I accept the <a href="/en/terms/{pk}/" target="_blank" rel="noopener">'
            "terms of service</a> (version 1.0)",
        ),
        (
            "fr",
            'J’accepte les <a href="/fr/terms/{pk}/" target="_blank" rel="noopener">'
            "conditions générales</a> (version 1.0)",
        ),
    ],
)
def test_the_subscribe_page_asks_to_accept_the_current_terms_with_a_link_to_them(
    customer_client, catalog, stripe_server, ticked_terms, language, label
):
    html = customer_client.get(f"/{language}/account/subscribe/{pro_monthly().pk}/").content
    html = html.decode()
    assert label.format(pk=ticked_terms.version.pk) in html
    assert f'name="terms" value="{ticked_terms.version.pk}" required' in html


@pytest.mark.parametrize(
    ("language", "error"),
    [
        (
            "en",
            "Please tick the box to accept the terms of service (version 1.0): nothing was saved"
            " or charged.",
        ),
        (
            "fr",
            "Veuillez cocher la case pour accepter les conditions générales (version 1.0) :"
            " rien n’a été enregistré ni débité.",
        ),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_without_the_box_ticked_the_page_says_so_and_nothing_changes(
    customer_client, customer, catalog, stripe_server, ticked_terms, language, error
):
    url = f"/{language}/account/subscribe/{pro_monthly().pk}/"
    page = customer_client.get(url).content.decode()
    response = customer_client.post(
        url, {"setup_intent": confirmed_setup_intent(customer), "charge": shown_charge(page)}
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Subscription.objects.filter(user=customer).exists()
    assert not Invoice.objects.exists()
    assert not TermsAcceptance.objects.exists()
    assert not BillingAccount.objects.filter(user=customer, card_last4="4242").exists()
    # A stale version (published terms changed since the page) is not an acceptance either.
    again = customer_client.post(url, {"charge": shown_charge(page), "terms": "999999"})
    assert again.status_code == 400
    assert not Subscription.objects.filter(user=customer).exists()


@pytest.mark.django_db(transaction=True)
def test_ticking_the_box_records_the_version_and_date_with_the_subscription(
    customer_client, customer, catalog, stripe_server, ticked_terms
):
    url = f"/en/account/subscribe/{pro_monthly().pk}/"
    with time_machine.travel(NOW, tick=False):
        page = customer_client.get(url).content.decode()
        customer_client.post(
            url,
            {
                "setup_intent": confirmed_setup_intent(customer),
                "charge": shown_charge(page),
                **ticked_terms.data,
            },
        )
    subscription = Subscription.objects.get(user=customer)
    assert subscription.status == SubscriptionStatus.ACTIVE
    [accepted] = TermsAcceptance.objects.all()
    assert (accepted.user, accepted.version, accepted.subscription) == (
        customer,
        ticked_terms.version,
        subscription,
    )
    assert accepted.accepted_at == NOW


def test_choosing_a_plan_during_the_trial_records_the_acceptance_too(
    customer, catalog, add_card, ticked_terms
):
    trial = trial_start(user=customer, plan=catalog["pro"], now=NOW)
    add_card(customer)
    checkout.subscribe(user=customer, price=pro_monthly(), now=NOW, terms=ticked_terms.version)
    [accepted] = TermsAcceptance.objects.all()
    assert (accepted.subscription, accepted.accepted_at) == (trial, NOW)


def test_the_acceptance_is_written_in_the_subscriptions_transaction(
    customer, catalog, add_card, ticked_terms, monkeypatch
):
    add_card(customer)

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(checkout, "terms_acceptance_record", broken)
    with pytest.raises(RuntimeError):
        checkout.subscribe(user=customer, price=pro_monthly(), now=NOW, terms=ticked_terms.version)
    assert not Subscription.objects.filter(user=customer).exists()
    assert not Invoice.objects.exists()


def test_the_acceptance_is_in_the_data_export_and_goes_with_the_account(
    customer,
    catalog,
    add_card,
    ticked_terms,
    settings,
    tmp_path,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    settings.MEDIA_ROOT = str(tmp_path)
    add_card(customer)
    checkout.subscribe(user=customer, price=pro_monthly(), now=NOW, terms=ticked_terms.version)
    with django_capture_on_commit_callbacks(execute=True):
        export = privacy.export_request(user=customer, now=timezone.now())
    export.refresh_from_db()
    with export.file.open("rb") as f, zipfile.ZipFile(f) as archive:
        tables = json.loads(archive.read("data.json"))["tables"]
        assert "legal_terms_acceptances.csv" in archive.namelist()
    [row] = tables["legal_terms_acceptances"]
    assert row["version_id"] == ticked_terms.version.pk
    assert row["accepted_at"] == NOW.isoformat()

    privacy.account_delete(user=customer, actor=None, now=timezone.now())
    assert not TermsAcceptance.objects.exists()
