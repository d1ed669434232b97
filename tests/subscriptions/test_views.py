"""The billing pages as a customer sees them: what they say, what they change, who may see them."""

from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from subscriptions.models import Invoice, Price, Subscription, SubscriptionStatus
from subscriptions.services.billing import billing_run
from subscriptions.services.cards import card_setup_start
from subscriptions.services.checkout import subscribe
from subscriptions.services.trials import trial_expire, trial_start
from tests.conftest import shown_charge
from tests.factories import UserFactory
from tests.test_pagination import _invoices


def price(code, interval, currency="EUR"):
    return Price.objects.get(plan__code=code, interval=interval, currency=currency)


def confirmed_setup_intent(user, payment_method="pm_card_visa"):
    """What Stripe.js does in the browser: confirm the page's SetupIntent with a card."""
    client_secret = card_setup_start(user=user)
    setup_intent_id = client_secret.split("_secret_")[0]
    stripe.SetupIntent.confirm(setup_intent_id, payment_method=payment_method)
    return setup_intent_id


def test_pricing_trial_button_sends_a_visitor_to_sign_up_then_to_the_trial(client, catalog):
    html = client.get("/fr/").content.decode()
    assert 'href="/fr/auth/signup/?next=/fr/account/trial/pro/"' in html


@pytest.mark.django_db(transaction=True)
def test_starting_a_trial_from_the_page_then_a_second_is_refused_with_the_reason(
    customer_client, customer, catalog, mailoutbox
):
    page = customer_client.get("/fr/account/trial/pro/")
    assert "Essayez Pro gratuitement pendant 15 jours" in page.content.decode()

    response = customer_client.post("/fr/account/trial/pro/", follow=True)
    html = response.content.decode()
    assert "Votre essai gratuit de 15 jours a commencé." in html
    assert "15 jours restants" in html
    assert Subscription.objects.get(user=customer).status == SubscriptionStatus.TRIALING
    assert len(mailoutbox) == 1

    Subscription.objects.filter(user=customer).delete()
    again = customer_client.post("/en/account/trial/pro/")
    assert again.status_code == 400
    assert "You have already used your free trial" in again.content.decode()
    assert not Subscription.objects.filter(user=customer).exists()


def test_unknown_plan_is_a_404(customer_client, catalog):
    assert customer_client.get("/fr/account/trial/gold/").status_code == 404
    assert customer_client.get("/fr/account/subscribe/999999/").status_code == 404


def test_subscribe_page_shows_price_tax_commitment_and_dates_before_the_card(
    customer_client, customer, catalog, stripe_server
):
    yearly = price("standard", "year")
    html = customer_client.get(f"/en/account/subscribe/{yearly.pk}/").content.decode()
    assert "Subscribe to Standard" in html
    assert "€390.00" in html  # price
    assert "€78.00" in html  # VAT
    assert "€468.00" in html  # total
    assert "12-month commitment, billed yearly" in html
    assert "today" in html
    renews = timezone.localtime(timezone.now()).date()
    assert str(renews.year + 1) in html
    assert 'id="card-element"' in html
    assert stripe_server.js_url in html
    assert "Pay €468.00 and subscribe" in html


@pytest.mark.parametrize(
    ("language", "commitment", "guarantee"),
    [
        (
            "en",
            "12-month commitment, billed yearly: no refund, and no cancellation or change of plan"
            " during the 12 months.",
            "Money-back guarantee: the full price (taxes are not refunded) if you ask within"
            " 14 days of your first payment.",
        ),
        (
            "fr",
            "Engagement de 12 mois, facturé à l’année : aucun remboursement, ni résiliation ni"
            " changement d’offre pendant les 12 mois.",
            "Garantie satisfait ou remboursé : le prix intégral (hors taxes, non remboursées)"
            " si vous le demandez dans les 14 jours suivant votre premier paiement.",
        ),
    ],
)
def test_subscribe_pages_state_the_commitment_or_the_guarantee_before_the_card(
    customer_client, catalog, stripe_server, language, commitment, guarantee
):
    # 000: Starter and Standard commit for 12 months with no refund, said before subscribing,
    # in the pricing page's words; 004: Pro and Premium carry the 14-day guarantee instead.
    pricing = customer_client.get(f"/{language}/").content.decode()
    assert pricing.count(commitment) == 2
    for code in ("starter", "standard"):
        html = customer_client.get(
            f"/{language}/account/subscribe/{price(code, 'year').pk}/"
        ).content.decode()
        assert commitment in html
        assert guarantee not in html
    for code, interval in (("pro", "month"), ("pro", "year"), ("premium", "month")):
        html = customer_client.get(
            f"/{language}/account/subscribe/{price(code, interval).pk}/"
        ).content.decode()
        assert guarantee in html
        assert commitment not in html


@pytest.mark.django_db(transaction=True)
def test_subscribing_with_a_card_charges_exactly_what_the_page_showed(
    customer_client, customer, catalog, stripe_server, mailoutbox, ticked_terms
):
    monthly = price("premium", "month", "GBP")
    page = customer_client.get(f"/en/account/subscribe/{monthly.pk}/").content.decode()
    assert "Pay £82.80 and subscribe" in page

    response = customer_client.post(
        f"/en/account/subscribe/{monthly.pk}/",
        {
            "setup_intent": confirmed_setup_intent(customer),
            "charge": shown_charge(page),
            **ticked_terms.data,
        },
        follow=True,
    )
    assert "Thank you: your subscription is active." in response.content.decode()
    invoice = Invoice.objects.get(user=customer)
    intent = stripe.PaymentIntent.retrieve(invoice.stripe_payment_intent_id)
    assert (intent.amount, intent.currency) == (8280, "gbp")
    assert customer.billing.card_last4 == "4242"
    assert any(invoice.number in m.body for m in mailoutbox)


def test_a_declined_card_is_explained_on_the_page_and_nothing_is_active(
    customer_client, customer, catalog, stripe_server, ticked_terms
):
    monthly = price("pro", "month")
    page = customer_client.get(f"/fr/account/subscribe/{monthly.pk}/").content.decode()
    response = customer_client.post(
        f"/fr/account/subscribe/{monthly.pk}/",
        {
            "setup_intent": confirmed_setup_intent(customer, "pm_card_chargeCustomerFail"),
            "charge": shown_charge(page),
            **ticked_terms.data,
        },
    )
    assert response.status_code == 400
    assert "Votre carte a été refusée" in response.content.decode()
    assert Subscription.objects.get(user=customer).status == SubscriptionStatus.INCOMPLETE


def test_a_forged_setup_intent_changes_nothing(
    customer_client, customer, catalog, stripe_server, ticked_terms
):
    other = UserFactory()
    foreign = confirmed_setup_intent(other)  # another customer's card
    monthly = price("pro", "month")
    for value in [foreign, "seti_doesnotexist", "<script>"]:
        response = customer_client.post(
            f"/en/account/subscribe/{monthly.pk}/", {"setup_intent": value, **ticked_terms.data}
        )
        assert response.status_code == 400
        assert "This card could not be saved" in response.content.decode()
    assert not Invoice.objects.exists()
    assert not Subscription.objects.filter(user=customer).exists()


def test_updating_the_card_replaces_it_and_detaches_the_old_one(
    customer_client, customer, catalog, stripe_server
):
    customer_client.post("/en/account/card/", {"setup_intent": confirmed_setup_intent(customer)})
    page = customer_client.get("/en/account/card/").content.decode()
    assert 'id="card-element"' in page
    assert 'data-client-secret="seti_' in page
    assert "Your current card: Visa ending in 4242" in page
    customer.refresh_from_db()
    old = customer.billing.payment_method_id
    response = customer_client.post(
        "/en/account/card/", {"setup_intent": confirmed_setup_intent(customer)}, follow=True
    )
    assert "Your new card is saved." in response.content.decode()
    customer.billing.refresh_from_db()
    assert customer.billing.payment_method_id != old
    assert stripe.PaymentMethod.retrieve(old).customer is None


@pytest.mark.django_db(transaction=True)
def test_pay_now_after_a_failed_renewal_reactivates(customer, catalog, add_card, client):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=timezone.now())
    add_card(customer, "pm_card_chargeCustomerFail")
    billing_run(now=sub.next_billing_at)
    invoice = Invoice.objects.get(kind="renewal")
    client.force_login(customer)

    page = client.get(f"/fr/account/invoices/{invoice.number}/pay/").content.decode()
    assert "Payer 58,80\xa0€ maintenant" in page
    unconfirmed = client.post(f"/fr/account/invoices/{invoice.number}/pay/")
    assert unconfirmed.status_code == 400  # no amount confirmed: nothing is charged
    assert invoice.attempts.count() == 1
    declined = client.post(
        f"/fr/account/invoices/{invoice.number}/pay/", {"charge": shown_charge(page)}
    )
    assert declined.status_code == 400
    assert "Votre carte a été refusée" in declined.content.decode()

    add_card(customer)
    page = declined.content.decode()
    paid = client.post(
        f"/fr/account/invoices/{invoice.number}/pay/", {"charge": shown_charge(page)}, follow=True
    )
    assert "Merci : votre paiement a bien été reçu." in paid.content.decode()
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE


def test_another_customers_invoice_cannot_be_paid_or_seen(customer_client, catalog, add_card):
    other = UserFactory()
    add_card(other)
    subscribe(user=other, price=price("pro", "month"), now=timezone.now())
    number = Invoice.objects.get(user=other).number
    for url in [
        f"/en/account/invoices/{number}/",
        f"/en/account/invoices/{number}/pay/",
        f"/en/account/invoices/{number}/pdf/",
    ]:
        assert customer_client.get(url).status_code == 404, url
    assert customer_client.post(f"/en/account/invoices/{number}/pay/").status_code == 404
    assert Invoice.objects.get(number=number).attempts.count() == 1


def test_the_customer_area_shows_the_trial_days_left_and_the_chosen_plan(
    customer_client, customer, catalog
):
    now = timezone.now()
    trial_start(user=customer, plan=catalog["pro"], now=now - timedelta(days=5))
    html = customer_client.get("/en/account/").content.decode()
    assert "Free trial of Pro: 10 days left" in html


def test_an_expired_trial_shows_the_read_only_area_with_the_deletion_date(
    customer_client, customer, catalog
):
    start = timezone.now() - timedelta(days=16)
    sub = trial_start(user=customer, plan=catalog["pro"], now=start)
    trial_expire(subscription=sub, now=sub.trial_ends_at)
    html = customer_client.get("/en/account/subscription/").content.decode()
    assert "Your account is read-only" in html
    assert "Subscribe" in html
    assert 'href="/en/account/data/"' in html  # export my data


@pytest.mark.parametrize(
    "url",
    [
        "/en/account/",
        "/en/account/subscription/",
        "/en/account/invoices/",
        "/en/account/cancel/",
        "/en/account/refunds/",
        "/en/account/subscribe/{price}/",
    ],
)
def test_customer_pages_query_count_does_not_grow_with_invoices(
    customer, catalog, add_card, client, django_assert_max_num_queries, url
):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=timezone.now())
    client.force_login(customer)
    url = url.format(price=price("premium", "year").pk)
    with django_assert_max_num_queries(14) as one:
        client.get(url)
    for _ in range(5):
        sub.refresh_from_db()
        billing_run(now=sub.next_billing_at)
    assert Invoice.objects.count() == 6
    # And 500 invoices of earlier years (issue 18: constant from 1 to 500 rows).
    _invoices(sub, 494, prefix="2019")
    assert Invoice.objects.count() == 500
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(url).status_code == 200
