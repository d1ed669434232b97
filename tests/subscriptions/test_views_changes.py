"""Plan change, cancellation, contract change and refund pages, for customers and staff."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import stripe
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from subscriptions.models import (
    ChangeRequestStatus,
    ContractChangeRequest,
    Invoice,
    InvoiceKind,
    Price,
    RefundRequest,
    RefundStatus,
    SubscriptionStatus,
)
from subscriptions.services.cancellation import cancellation_confirm, cancellation_quote
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import change_request_create
from subscriptions.services.payments import charge_refunds_sync
from subscriptions.services.refunds import refund_request_create
from subscriptions.services.trials import trial_start
from tests.conftest import shown_charge, staff_login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def price(code, interval):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency="EUR"
    )


@pytest.fixture
def subscribed(customer, catalog, add_card, customer_client):
    def _subscribe(code="pro", interval="month", at=None):
        add_card(customer)
        return subscribe(user=customer, price=price(code, interval), now=at or timezone.now())

    return _subscribe


def test_the_quote_shows_in_place_with_htmx_and_as_a_page_without(customer_client, subscribed):
    subscribed()
    target = price("premium", "month")
    url = f"/en/account/subscription/change/{target.pk}/"
    page = customer_client.get("/en/account/subscription/").content.decode()
    assert f'hx-get="{url}"' in page
    assert f'href="{url}"' in page

    partial = customer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    full = customer_client.get(url).content.decode()
    assert "<html" not in partial
    assert 'id="quote"' in partial
    assert "<html" in full
    assert 'id="quote"' in full
    amount = re.search(r"To pay today: (€[\d.,]+)\.", partial).group(1)
    assert f"Confirm and pay {amount}" in partial


def test_confirming_an_upgrade_charges_the_amount_on_the_page(customer_client, subscribed):
    subscribed()
    target = price("premium", "month")
    url = f"/en/account/subscription/change/{target.pk}/"
    page = customer_client.get(url).content.decode()
    shown = re.search(r"To pay today: €([\d.,]+)\.", page).group(1)
    token = re.search(r'name="quote" value="([^"]+)"', page).group(1)

    response = customer_client.post(url, {"quote": token}, follow=True)

    assert "You are now on Premium." in response.content.decode()
    invoice = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert f"{invoice.total / 100:.2f}" == shown


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "This change is already made: you are on Premium."),
        ("fr", "Ce changement est déjà fait : vous êtes sur l’offre Premium."),
    ],
)
def test_double_submitting_an_upgrade_charges_once(
    customer_client, subscribed, language, said, django_assert_max_num_queries
):
    subscribed()
    target = price("premium", "month")
    url = f"/{language}/account/subscription/change/{target.pk}/"
    token = re.search(
        r'name="quote" value="([^"]+)"', customer_client.get(url).content.decode()
    ).group(1)
    customer_client.post(url, {"quote": token})
    with django_assert_max_num_queries(8):
        second = customer_client.post(url, {"quote": token})
    html = second.content.decode()
    assert second.status_code == 409
    assert said in html
    assert 'name="quote"' not in html  # nothing left to confirm
    assert Invoice.objects.filter(kind=InvoiceKind.PRORATION).count() == 1


def test_a_second_keep_my_subscription_click_says_it_already_continues(
    customer_client, subscribed, mailoutbox
):
    sub = subscribed()
    customer_client.post("/fr/account/cancel/confirm/", {"reason": ""})
    page = customer_client.get("/fr/account/subscription/").content.decode()
    keep = {"charge": re.search(r'name="charge" value="([^"]+)"', page).group(1)}
    customer_client.post("/fr/account/cancel/undo/", keep)
    sent = len(mailoutbox)
    again = customer_client.post("/fr/account/cancel/undo/", keep, follow=True)
    html = again.content.decode()
    assert "Votre abonnement continue déjà : il n’y a pas de résiliation à annuler." in html
    assert "ne peut plus être annulée" not in html
    sub.refresh_from_db()
    assert sub.cancel_at is None
    assert len(mailoutbox) == sent


CANCEL_LABEL = {"fr": "Résilier votre contrat", "en": "Cancel your contract"}
CONTINUE = {"fr": "Continuer", "en": "Continue"}
CONFIRM = {"fr": "Confirmer ma demande de résiliation", "en": "Confirm my cancellation request"}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_cancelling_takes_three_clicks_from_any_page(
    customer_client, customer, subscribed, language, mailoutbox
):
    sub = subscribed()
    home = customer_client.get(f"/{language}/account/").content.decode()
    # Click 1: the link present on every logged-in page.
    link = re.search(rf'<a href="([^"]+)">{CANCEL_LABEL[language]}</a>', home).group(1)
    form = customer_client.get(link).content.decode()
    assert customer.name in form
    assert customer.email in form
    assert sub.reference in form
    assert CONTINUE[language] in form
    # Click 2: "Continue" (the reason stays optional).
    summary = customer_client.post(link, {"reason": ""}).content.decode()
    assert CONFIRM[language] in summary
    # Click 3: "Confirm my cancellation request".
    done = customer_client.post(f"/{language}/account/cancel/confirm/", {"reason": ""})
    assert done.status_code == 200
    sub.refresh_from_db()
    assert sub.cancel_at == sub.current_period_end
    assert sub.reference in mailoutbox[-1].subject


def test_the_summary_says_the_end_date_the_refund_and_the_data_before_confirming(
    customer_client, subscribed
):
    sub = subscribed("pro", "year", at=timezone.now() - timedelta(days=45))
    summary = customer_client.post("/en/account/cancel/", {"reason": "Too expensive"})
    html = summary.content.decode()
    quote = cancellation_quote(subscription=sub, now=timezone.now())
    assert quote.refund.amount > 0
    assert f"€{quote.refund.amount / 100:,.2f}" in html
    assert "Your data is kept" in html
    assert "Too expensive" in html
    assert "full refund" not in html  # the guarantee is over


def test_after_a_refunded_cancellation_the_keep_button_says_the_refund_is_charged_again(
    customer_client, subscribed
):
    subscribed("pro", "year", at=timezone.now() - timedelta(days=45))
    summary = customer_client.post("/en/account/cancel/", {"reason": ""}).content.decode()
    token = re.search(r'name="quote" value="([^"]+)"', summary).group(1)
    done = customer_client.post("/en/account/cancel/confirm/", {"reason": "", "quote": token})
    refund = RefundRequest.objects.get()
    amount = f"€{refund.amount / 100:,.2f}"
    html = done.content.decode()
    assert f"{amount} is being refunded to your card" in html
    assert f"The {amount} refunded when you cancelled will be charged again." in html
    assert "Keep my subscription" in html
    # A second click (double click, second tab) shows the same confirmation, nothing more.
    again = customer_client.post("/en/account/cancel/confirm/", {"reason": "", "quote": token})
    assert f"{amount} is being refunded to your card" in again.content.decode()
    assert RefundRequest.objects.count() == 1


def test_under_a_commitment_the_page_is_titled_turn_off_automatic_renewal(
    customer_client, subscribed
):
    subscribed("standard", "year")
    html = customer_client.get("/fr/account/cancel/").content.decode()
    assert "<h1>Désactiver le renouvellement automatique</h1>" in html


def test_within_the_guarantee_the_summary_offers_the_full_refund_as_a_second_button(
    customer_client, subscribed
):
    sub = subscribed()
    html = customer_client.post("/en/account/cancel/", {"reason": ""}).content.decode()
    assert "Cancel now with a full refund of €49.00" in html
    customer_client.post("/en/account/cancel/confirm/", {"reason": "", "full_refund": "1"})
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.CANCELED
    assert RefundRequest.objects.get().amount == 4900
    # A second click (double click, second tab) says where things stand; nothing more.
    again = customer_client.post(
        "/en/account/cancel/confirm/", {"reason": "", "full_refund": "1"}, follow=True
    )
    assert again.status_code == 200
    assert "Your subscription has ended." in again.content.decode()
    assert RefundRequest.objects.count() == 1


def test_keep_my_subscription_in_one_click(customer_client, subscribed):
    sub = subscribed()
    customer_client.post("/en/account/cancel/confirm/", {"reason": ""})
    page = customer_client.get("/en/account/subscription/").content.decode()
    assert "Keep my subscription" in page
    unconfirmed = customer_client.post("/en/account/cancel/undo/", follow=True)
    assert "Please check the amount below and confirm it." in unconfirmed.content.decode()
    sub.refresh_from_db()
    assert sub.cancel_at is not None
    response = customer_client.post(
        "/en/account/cancel/undo/", {"charge": shown_charge(page)}, follow=True
    )
    assert "Your subscription continues." in response.content.decode()
    sub.refresh_from_db()
    assert sub.cancel_at is None


def test_no_contract_means_nothing_to_cancel(customer_client, catalog):
    html = customer_client.get("/en/account/cancel/").content.decode()
    assert "You have no active contract to cancel." in html
    confirmed = customer_client.post("/en/account/cancel/confirm/", follow=True)
    assert confirmed.redirect_chain == [("/en/account/cancel/", 302)]
    assert "You have no active contract to cancel." in confirmed.content.decode()


def test_a_contract_change_request_is_filed_seen_and_withdrawn(
    customer_client, customer, subscribed, mailoutbox
):
    subscribed("standard", "year")
    form = customer_client.get("/en/account/subscription/change-request/")
    assert "under a 12-month commitment" in form.content.decode()
    bad = customer_client.post(
        "/en/account/subscription/change-request/", {"target": "999999", "reason": "x"}
    )
    assert bad.status_code == 400
    assert not ContractChangeRequest.objects.exists()
    target = price("premium", "year")
    customer_client.post(
        "/en/account/subscription/change-request/",
        {"target": str(target.pk), "reason": "We need SMS reminders", "message": ""},
    )
    change = ContractChangeRequest.objects.get()
    page = customer_client.get("/en/account/subscription/").content.decode()
    assert "is waiting for our review" in page
    customer_client.post(f"/en/account/subscription/change-request/{change.pk}/withdraw/")
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.WITHDRAWN


def test_refund_page_shows_the_quote_and_the_rule_then_refunds(
    customer_client, subscribed, mailoutbox
):
    subscribed()
    invoice = Invoice.objects.get()
    page = customer_client.get(f"/en/account/invoices/{invoice.number}/refund/").content.decode()
    assert "You will be refunded €49.00" in page
    assert "money-back guarantee" in page
    response = customer_client.post(
        f"/en/account/invoices/{invoice.number}/refund/", {"reason": "changed_mind"}
    )
    assert "3 to 5 business days" in response.content.decode()
    again = customer_client.post(
        f"/en/account/invoices/{invoice.number}/refund/", {"reason": "changed_mind"}
    )
    assert "already been requested" in again.content.decode()
    assert RefundRequest.objects.count() == 1


def test_the_refund_page_says_until_when_the_amount_holds_and_keeps_it_to_the_confirmation(
    customer_client, subscribed
):
    start = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        subscribed(at=start)
    url = f"/en/account/invoices/{Invoice.objects.get().number}/refund/"
    shown = start + timedelta(days=14, minutes=-5)  # five minutes left of the guarantee
    with time_machine.travel(shown, tick=False):
        page = customer_client.get(url).content.decode()
    assert "You will be refunded €49.00" in page
    # The guarantee's last second, in the customer's time zone (Paris).
    assert "This amount holds until May 18, 2026 at 12:00;" in page
    token = re.search(r'name="quote" value="([^"]+)"', page).group(1)

    with time_machine.travel(shown + timedelta(minutes=31), tick=False):
        stale = customer_client.post(url, {"reason": "changed_mind", "quote": token})
    assert "This quote has expired" in stale.content.decode()
    assert not RefundRequest.objects.exists()

    # Confirmed after the guarantee's end but within the quote's half hour: what was shown.
    with time_machine.travel(shown + timedelta(minutes=20), tick=False):
        done = customer_client.post(url, {"reason": "changed_mind", "quote": token})
    assert "€49.00 has been refunded" in done.content.decode()
    assert RefundRequest.objects.get().amount == 4900


def test_a_refund_whose_quote_changed_since_the_page_is_shown_again_not_made(
    customer_client, subscribed
):
    subscribed()
    invoice = Invoice.objects.get()
    url = f"/en/account/invoices/{invoice.number}/refund/"
    page = customer_client.get(url).content.decode()
    assert "You will be refunded €49.00" in page
    token = re.search(r'name="quote" value="([^"]+)"', page).group(1)
    # Meanwhile support refunds €10.00 from the Stripe dashboard.
    stripe.Refund.create(charge=invoice.stripe_charge_id, amount=1000)
    charge_refunds_sync(charge_id=invoice.stripe_charge_id, now=timezone.now())

    response = customer_client.post(url, {"reason": "changed_mind", "quote": token})

    html = response.content.decode()
    assert "Your situation has changed since this page was shown" in html
    assert "You will be refunded €39.00" in html
    assert not RefundRequest.objects.exists()


def test_a_reason_that_is_not_grounds_is_explained_and_not_submitted(customer_client, subscribed):
    subscribed(at=timezone.now() - timedelta(days=20))
    invoice = Invoice.objects.get()
    response = customer_client.post(
        f"/en/account/invoices/{invoice.number}/refund/", {"reason": "bought_to_evaluate"}
    )
    assert response.status_code == 400
    assert "cannot be reviewed for a refund" in response.content.decode()
    assert not RefundRequest.objects.exists()
    odd = customer_client.post(
        f"/en/account/invoices/{invoice.number}/refund/", {"reason": "\x00<script>"}
    )
    assert odd.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/en/account/invoices/{number}/refund/",
        "/en/account/subscription/change/{price}/",
    ],
)
def test_another_customers_objects_are_404(client, catalog, add_card, url):
    owner = UserFactory()
    add_card(owner)
    subscribe(user=owner, price=price("pro", "month"), now=timezone.now())
    number = Invoice.objects.get(user=owner).number
    intruder = UserFactory()
    client.force_login(intruder)
    target = url.format(number=number, price=price("premium", "month").pk)
    assert client.get(target).status_code == 404
    assert client.post(target, {"reason": "billing_error", "details": "x"}).status_code == 404
    assert not RefundRequest.objects.exists()


def test_another_customers_change_request_cannot_be_withdrawn(client, catalog, add_card):
    owner = UserFactory()
    add_card(owner)
    sub = subscribe(user=owner, price=price("standard", "year"), now=timezone.now())
    change = change_request_create(
        user=owner, subscription=sub, target=price("premium", "year"), reason="x", message=""
    )
    client.force_login(UserFactory())
    response = client.post(f"/en/account/subscription/change-request/{change.pk}/withdraw/")
    assert response.status_code == 404
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.PENDING


# --- staff in the admin --------------------------------------------------------------------


@pytest.fixture
def billing_staff(db):
    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Billing"))
    return staff


@pytest.fixture
def support_staff(db):
    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    return staff


def test_billing_staff_approve_a_partial_refund_in_the_admin(
    client, customer, subscribed, billing_staff, mailoutbox
):
    subscribed(at=timezone.now() - timedelta(days=20))
    invoice = Invoice.objects.get()
    refund = RefundRequest.objects.create(
        user=customer,
        invoice=invoice,
        subscription=invoice.subscription,
        reason="service_problem",
        details="Down",
        rule="review",
        status=RefundStatus.REVIEW,
        quoted_amount=0,
        currency="EUR",
        due_by=timezone.now() - timedelta(days=1),
    )
    staff_login(client, billing_staff)
    listing = client.get("/en/admin/subscriptions/refundrequest/").content.decode()
    assert "(overdue)" in listing
    page = client.get(f"/en/admin/subscriptions/refundrequest/{refund.pk}/change/")
    assert "already refunded" in page.content.decode()
    too_much = client.post(
        f"/en/admin/subscriptions/refundrequest/{refund.pk}/change/",
        {"decision": "approve", "refund_amount": "49.01", "written_reason": ""},
        follow=True,
    )
    assert "at most what is left to refund" in too_much.content.decode()
    client.post(
        f"/en/admin/subscriptions/refundrequest/{refund.pk}/change/",
        {"decision": "approve", "refund_amount": "12.50", "written_reason": "Outage"},
    )
    refund.refresh_from_db()
    assert (refund.status, refund.amount, refund.decided_by) == (
        RefundStatus.SUCCEEDED,
        1250,
        billing_staff,
    )


def test_support_staff_can_read_but_not_decide(client, customer, subscribed, support_staff):
    subscribed(at=timezone.now() - timedelta(days=20))
    invoice = Invoice.objects.get()
    refund = RefundRequest.objects.create(
        user=customer,
        invoice=invoice,
        reason="service_problem",
        rule="review",
        status=RefundStatus.REVIEW,
        quoted_amount=0,
        currency="EUR",
    )
    staff_login(client, support_staff)
    assert client.get("/en/admin/subscriptions/refundrequest/").status_code == 200
    client.post(
        f"/en/admin/subscriptions/refundrequest/{refund.pk}/change/",
        {"decision": "approve", "refund_amount": "10.00"},
    )
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REVIEW


def test_billing_staff_approve_a_contract_change_in_the_admin(
    client, customer, subscribed, billing_staff, mailoutbox
):
    sub = subscribed("standard", "year")
    change = change_request_create(
        user=customer,
        subscription=sub,
        target=price("premium", "year"),
        reason="SMS",
        message="",
    )
    staff_login(client, billing_staff)
    page = client.get(f"/en/admin/subscriptions/contractchangerequest/{change.pk}/change/")
    assert "charged" in page.content.decode()
    rejected = client.post(
        f"/en/admin/subscriptions/contractchangerequest/{change.pk}/change/",
        {"decision": "reject", "written_reason": ""},
        follow=True,
    )
    assert "reason for the rejection" in rejected.content.decode()
    client.post(
        f"/en/admin/subscriptions/contractchangerequest/{change.pk}/change/",
        {
            "decision": "approve",
            "written_reason": "Fine",
            "charge": shown_charge(page.content.decode()),
        },
    )
    sub.refresh_from_db()
    assert sub.plan.code == "premium"


def test_after_a_guarantee_refund_the_pricing_and_subscribe_pages_say_no_guarantee_again(
    customer_client, customer, subscribed
):
    subscribed()
    invoice = Invoice.objects.get()
    customer_client.post(
        f"/en/account/invoices/{invoice.number}/refund/", {"reason": "changed_mind"}
    )
    assert RefundRequest.objects.get().rule == "guarantee"
    again = price("pro", "month")
    page = customer_client.get(f"/en/account/subscribe/{again.pk}/").content.decode()
    assert "buying it again comes without the guarantee" in page
    assert "Money-back guarantee: a full refund" not in page
    pricing = customer_client.get("/en/").content.decode()
    pro = pricing.split('id="plan-pro"')[1].split("</section>")[0]
    premium = pricing.split('id="plan-premium"')[1].split("</section>")[0]
    assert "without the guarantee" in pro
    assert "without the guarantee" not in premium


def test_invoice_lines_and_refunds_read_in_the_page_language(customer, customer_client, subscribed):
    subscribed()
    invoice = Invoice.objects.get()
    french = customer_client.get(f"/fr/account/invoices/{invoice.number}/").content.decode()
    english = customer_client.get(f"/en/account/invoices/{invoice.number}/").content.decode()
    assert "Pro, mensuel" in french
    assert "monthly" not in french
    assert "Pro, monthly" in english
    assert "mensuel" not in english
    assert "Demander un remboursement" in french

    refund_request_create(
        user=customer, invoice=invoice, reason="changed_mind", details="", now=timezone.now()
    )
    french = customer_client.get(f"/fr/account/invoices/{invoice.number}/").content.decode()
    listing = customer_client.get("/fr/account/invoices/").content.decode()
    assert "49,00\xa0€ remboursés" in french
    assert "49,00\xa0€ remboursés" in listing
    assert "Demander un remboursement" not in french  # nothing is left to refund


def test_a_customer_with_a_subscription_manages_it_instead_of_a_new_trial(
    customer_client, subscribed
):
    before = customer_client.get("/en/").content.decode()
    assert "15-day free trial</a>" in before
    subscribed()
    after = customer_client.get("/en/").content.decode()
    assert "15-day free trial</a>" not in after
    assert "Manage my subscription" in after


def test_the_account_home_says_a_recorded_cancellation(customer, customer_client, subscribed):
    sub = subscribed()
    cancellation_confirm(user=customer, subscription=sub, reason="", now=timezone.now())
    sub.refresh_from_db()
    home = customer_client.get("/en/account/").content.decode()
    assert "Cancellation recorded: the service ends on" in home


def test_a_trial_cancel_summary_says_when_its_data_is_deleted(customer, customer_client, catalog):
    trial_start(user=customer, plan=catalog["pro"], now=timezone.now())
    html = customer_client.post("/en/account/cancel/", {"reason": ""}).content.decode()
    assert "Your trial continues until this date and nothing will be charged." in html
    assert "export your data for 7 days; then it is deleted" in html
    assert "Your data is kept" not in html
    assert "No refund is due" not in html


def test_a_cancelled_trial_is_told_what_happens_to_a_trial(
    customer, customer_client, catalog, mailoutbox
):
    trial_start(user=customer, plan=catalog["pro"], now=timezone.now())
    html = customer_client.post("/en/account/cancel/confirm/", {"reason": ""}).content.decode()
    assert "Your free trial continues until" in html
    assert "export your data for 7 days; then it is deleted" in html
    assert "download your invoices" not in html
    email = mailoutbox[-1].body  # in the customer's language, French
    assert "Votre essai gratuit continue jusqu’au" in email
    assert "pendant 7 jours ; elles sont ensuite supprimées" in email
    assert "Aucun remboursement" not in email
    assert "factures" not in email


def test_a_plain_cancellation_within_the_guarantee_says_the_full_refund_stays_open(
    customer, customer_client, subscribed, mailoutbox
):
    sub = subscribed()
    customer_client.post("/en/account/cancel/confirm/", {"reason": ""})
    deadline = sub.first_paid_at + timedelta(days=14)
    email = mailoutbox[-1].body
    assert "vous pouvez encore demander le remboursement intégral" in email
    assert "Aucun remboursement n’est dû" not in email
    assert f"jusqu’au {deadline.astimezone(ZoneInfo('Europe/Paris')).day} " in email


@pytest.mark.parametrize(
    ("language", "says", "never"),
    [
        ("en", "Nothing to pay today: the change takes effect on ", ["nothing now", "From "]),
        (
            "fr",
            "Rien à payer aujourd’hui : le changement prend effet le ",
            ["rien maintenant", "À partir du "],
        ),
    ],
)
def test_a_downgrade_says_in_one_sentence_that_nothing_is_paid_today_and_when_it_starts(
    customer_client, subscribed, language, says, never
):
    # Issue 17: "À partir du 2 janvier 2027, rien maintenant" / "From January 2, 2027,
    # nothing now".
    sub = subscribed("premium", "month")
    html = customer_client.get(
        f"/{language}/account/subscription/change/{price('pro', 'month').pk}/"
    ).content.decode()
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert says in main
    assert str(sub.current_period_end.year) in main.split(says, 1)[1][:40]
    for words in never:
        assert words not in main


@pytest.mark.parametrize(
    ("language", "says", "never"),
    [
        ("en", "nothing: the plan starts on ", "nothing now"),
        ("fr", "rien : l’offre commence le ", "rien maintenant"),
    ],
)
def test_a_change_request_table_says_nothing_is_charged_before_the_plan_starts(
    customer_client, subscribed, language, says, never
):
    subscribed("standard", "year")
    html = customer_client.get(f"/{language}/account/subscription/change-request/").content.decode()
    assert says in html  # Starter, below Standard: from the next period
    assert never not in html
