"""Twenty identical requests at once, through the real views and localstripe: each action
happens once, and every other request gets a page that says what happened, in the
customer's language, never a 500.

PostgreSQL only: SQLite has no row locks (`select_for_update` is a no-op there) and takes one
writer at a time, so twenty concurrent writers fail there with "database is locked" instead
of queueing on the row. CI runs the suite on PostgreSQL too."""

import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
import stripe
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from subscriptions.models import (
    AuditEvent,
    ChangeRequestStatus,
    ContractChangeRequest,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Price,
    RefundRequest,
    Subscription,
)
from subscriptions.money import format_money
from subscriptions.services.cancellation import cancellation_confirm, cancellation_quote
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import change_request_create
from subscriptions.services.invoices import invoice_amounts, invoice_issue
from subscriptions.services.renewals import renewal_remind
from tests.conftest import staff_login
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite has no row locks; CI runs these on PostgreSQL",
    ),
]

N = 20
LANGUAGES = ("en", "fr")  # even threads in English, odd ones in French


def price(code, interval):
    return Price.objects.select_related("plan").get(
        plan__code=code, interval=interval, currency="EUR"
    )


def clients(user, *, staff=False):
    """One client per thread, each with its own session (and, in its thread, connection)."""
    made = []
    for _ in range(N):
        client = Client(raise_request_exception=False)
        if staff:
            staff_login(client, user)
        else:
            client.force_login(user)
        made.append(client)
    return made


def fire(clients_, request):
    """`request(client, language)` from N threads released at the same instant."""
    barrier = threading.Barrier(N)
    responses = [None] * N

    def worker(i):
        barrier.wait()
        try:
            responses[i] = request(clients_[i], LANGUAGES[i % 2])
        finally:
            connection.close()  # this thread's own connection, or teardown cannot drop the DB

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [r for r in responses if r.status_code >= 500]
    assert not errors, [getattr(r, "exc_info", None) for r in errors]
    return responses


def text(response):
    return response.content.decode()


def charges(user):
    """The payments Stripe took from this customer's card."""
    listed = stripe.PaymentIntent.list(customer=user.billing.stripe_customer_id, limit=100)
    return [pi.amount for pi in listed.data if pi.status == "succeeded"]


def token(html):
    return re.search(r'name="quote" value="([^"]+)"', html).group(1)


def test_twenty_upgrade_confirmations_charge_once(customer, catalog, add_card, mailoutbox):
    add_card(customer)
    subscribe(user=customer, price=price("pro", "month"), now=timezone.now())
    target = price("premium", "month")
    url = f"/account/subscription/change/{target.pk}/"
    browsers = clients(customer)
    quote = token(text(browsers[0].get(f"/en{url}")))

    responses = fire(browsers, lambda c, lang: c.post(f"/{lang}{url}", {"quote": quote}))

    done = [r for r in responses if r.status_code == 302]
    refused = [r for r in responses if r.status_code != 302]
    assert len(done) == 1
    assert {r.status_code for r in refused} == {409}
    for i, response in enumerate(responses):
        if response in refused:
            lang = LANGUAGES[i % 2]
            said = text(response)
            assert TAKEN[lang] in said
            assert ALREADY_CHANGED[lang] in said or IN_PROGRESS[lang] in said
    upgrade = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert upgrade.status == InvoiceStatus.PAID
    first = Invoice.objects.get(kind=InvoiceKind.FIRST)
    assert sorted(charges(customer)) == sorted([first.total, upgrade.total])
    assert Subscription.objects.get().plan.code == "premium"
    assert AuditEvent.objects.filter(kind="plan_changed").count() == 1
    assert [m.subject for m in mailoutbox].count(mailoutbox[-1].subject) == 1


TAKEN = {"en": "Already taken into account", "fr": "Déjà pris en compte"}
# A click whose page was read before another click changed things: nothing is done and the
# page asks to read it again (the amount it showed is no longer the one that would apply).
CHANGED = {
    "en": "Your situation has changed since this page was shown: please read it again.",
    "fr": "Votre situation a changé depuis l’affichage de cette page : merci de la relire.",
}
IN_PROGRESS = {
    "en": "A payment for a change to this subscription is in progress: please wait.",
    "fr": "Un paiement pour une modification de cet abonnement est en cours : merci de patienter.",
}
ALREADY_CHANGED = {
    "en": "This change is already made: you are on Premium.",
    "fr": "Ce changement est déjà fait : vous êtes sur l’offre Premium.",
}


def test_twenty_cancellation_confirmations_cancel_and_refund_once(
    customer, catalog, add_card, mailoutbox
):
    add_card(customer)
    sub = subscribe(
        user=customer, price=price("pro", "year"), now=timezone.now() - timedelta(days=45)
    )
    browsers = clients(customer)
    quote = token(text(browsers[0].post("/en/account/cancel/", {"reason": ""})))
    ends_at = cancellation_quote(subscription=sub, now=timezone.now()).ends_at
    sent = len(mailoutbox)

    responses = fire(
        browsers,
        lambda c, lang: c.post(f"/{lang}/account/cancel/confirm/", {"reason": "", "quote": quote}),
    )

    assert {r.status_code for r in responses} == {200}
    refund = RefundRequest.objects.get()
    sub.refresh_from_db()
    assert sub.cancel_at == ends_at  # 004: the end of this month; the months after refunded
    assert stripe.Charge.retrieve(refund.invoice.stripe_charge_id).amount_refunded == refund.amount
    assert AuditEvent.objects.filter(kind="cancellation_requested").count() == 1
    assert len(mailoutbox) - sent == 2  # the acknowledgement and the refund, once each
    for i, response in enumerate(responses):
        lang = LANGUAGES[i % 2]
        assert CANCELLED[lang] in text(response)
        refunded = REFUNDING[lang] % {"amount": format_money(refund.amount, "EUR", lang)}
        assert refunded in text(response)


CANCELLED = {
    "en": "Your cancellation request is recorded",
    "fr": "Votre demande de résiliation est enregistrée",
}
REFUNDING = {
    "en": "%(amount)s is being refunded to your card",
    "fr": "%(amount)s vous sont remboursés sur votre carte",
}


def test_twenty_keep_my_subscription_clicks_charge_the_refund_back_once(
    customer, catalog, add_card, mailoutbox
):
    add_card(customer)
    sub = subscribe(
        user=customer, price=price("pro", "year"), now=timezone.now() - timedelta(days=45)
    )
    cancellation_confirm(user=customer, subscription=sub, reason="", now=timezone.now())
    refund = RefundRequest.objects.get()
    browsers = clients(customer)
    # The signed charge the subscription page shows on its "Keep my subscription" form.
    page = text(browsers[0].get("/en/account/subscription/"))
    keep = {"charge": re.search(r'name="charge" value="([^"]+)"', page).group(1)}

    responses = fire(
        browsers, lambda c, lang: c.post(f"/{lang}/account/cancel/undo/", keep, follow=True)
    )

    assert {r.status_code for r in responses} == {200}
    said = Counter()
    for i, response in enumerate(responses):
        lang = LANGUAGES[i % 2]
        said.update(key for key, words in UNDO[lang].items() if words in text(response))
    assert said["continues"] == 1
    assert said["continues"] + said["already"] + said["in_progress"] + said["changed"] == N
    charge_back = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert charge_back.total == refund.amount
    assert charge_back.status == InvoiceStatus.PAID
    assert sorted(charges(customer)) == sorted([refund.invoice.total, refund.amount])
    sub.refresh_from_db()
    assert sub.cancel_at is None
    assert AuditEvent.objects.filter(kind="cancellation_undone").count() == 1


UNDO = {
    "en": {
        "continues": "Your subscription continues.",
        "already": "Your subscription already continues: there is no cancellation to undo.",
        "in_progress": IN_PROGRESS["en"],
        "changed": "The amount has changed since this page was shown: nothing was charged.",
    },
    "fr": {
        "continues": "Votre abonnement continue.",
        "already": "Votre abonnement continue déjà : il n’y a pas de résiliation à annuler.",
        "in_progress": IN_PROGRESS["fr"],
        "changed": "Le montant a changé depuis l’affichage de cette page : rien n’a été prélevé.",
    },
}


def test_twenty_refund_requests_refund_once(customer, catalog, add_card, mailoutbox, settings):
    # The per-customer throttle (5 an hour) is tested on its own: here every click counts.
    settings.THROTTLES = {**settings.THROTTLES, "refund_request": (100, 3600)}
    add_card(customer)
    subscribe(user=customer, price=price("pro", "month"), now=timezone.now())
    invoice = Invoice.objects.get()
    url = f"/account/invoices/{invoice.number}/refund/"
    browsers = clients(customer)
    quote = token(text(browsers[0].get(f"/en{url}")))

    responses = fire(
        browsers,
        lambda c, lang: c.post(f"/{lang}{url}", {"quote": quote, "reason": "changed_mind"}),
    )

    assert {r.status_code for r in responses} <= {200, 400, 409}
    refund = RefundRequest.objects.get()
    assert refund.amount == 4900
    assert stripe.Charge.retrieve(invoice.stripe_charge_id).amount_refunded == 4900
    said = Counter()
    for i, response in enumerate(responses):
        lang = LANGUAGES[i % 2]
        said.update(key for key, words in REFUND[lang].items() if words in text(response))
    assert said["done"] == 1
    assert said["done"] + said["already"] + said["changed"] == N


REFUND = {
    "en": {
        "done": "€49.00 has been refunded",
        "already": "A refund has already been requested for this payment",
        "changed": CHANGED["en"],
    },
    "fr": {
        "done": "49,00\xa0€ ont été remboursés",
        "already": "Un remboursement a déjà été demandé pour ce paiement",
        "changed": CHANGED["fr"],
    },
}


def test_twenty_approvals_of_a_contract_change_decide_and_charge_once(
    customer, catalog, add_card, mailoutbox
):
    add_card(customer)
    sub = subscribe(user=customer, price=price("standard", "year"), now=timezone.now())
    change = change_request_create(
        user=customer, subscription=sub, target=price("premium", "year"), reason="SMS", message=""
    )
    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Billing"))
    browsers = clients(staff, staff=True)
    url = f"/admin/subscriptions/contractchangerequest/{change.pk}/change/"
    # The signed charge the decision page shows: approving takes that amount only.
    page = text(browsers[0].get(f"/en{url}"))
    charge = re.search(r'name="charge" value="([^"]*)"', page).group(1)

    responses = fire(
        browsers,
        lambda c, lang: c.post(
            f"/{lang}{url}",
            {"decision": "approve", "written_reason": "Fine", "charge": charge},
            follow=True,
        ),
    )

    assert {r.status_code for r in responses} == {200}
    said = Counter()
    for i, response in enumerate(responses):
        lang = LANGUAGES[i % 2]
        said.update(key for key, words in DECIDED[lang].items() if words in text(response))
    assert said == {"recorded": 1, "already": N - 1}
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.APPROVED
    assert ContractChangeRequest.objects.count() == 1
    upgrade = Invoice.objects.get(kind=InvoiceKind.PRORATION)
    assert upgrade.status == InvoiceStatus.PAID
    assert sorted(charges(customer)) == sorted(
        [sub.invoices.get(kind="first").total, upgrade.total]
    )
    assert Subscription.objects.get().plan.code == "premium"
    assert AuditEvent.objects.filter(kind="change_request_approved").count() == 1


DECIDED = {
    "en": {
        "recorded": "The decision is recorded and e-mailed to the customer.",
        "already": "This request has already been decided.",
    },
    "fr": {
        "recorded": "La décision est enregistrée",
        "already": "Cette demande a déjà été traitée.",
    },
}


# --- a request waiting for the row while another one changes its price (finding 4) ----------


def waiting_for_a_lock():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def while_another_request_changes(subscription, request, **changes):
    """Another transaction locks the subscription and makes `changes`; `request()` runs
    meanwhile, waits for that lock, and goes on once the change is committed."""
    locked, release = threading.Event(), threading.Event()
    answer = []

    def other():
        try:
            with transaction.atomic():
                Subscription.objects.select_for_update().get(pk=subscription.pk)
                Subscription.objects.filter(pk=subscription.pk).update(**changes)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def waiting():
        try:
            answer.append(request())
        finally:
            connection.close()

    holder = threading.Thread(target=other)
    holder.start()
    assert locked.wait(timeout=30)
    waiter = threading.Thread(target=waiting)
    waiter.start()
    for _ in range(300):
        if waiting_for_a_lock():
            break
        waiter.join(timeout=0.05)
    assert waiting_for_a_lock(), "the request should be waiting for the subscription's lock"
    release.set()
    holder.join()
    waiter.join()
    return answer[0]


def test_an_upgrade_waiting_while_another_tab_made_it_says_so(customer, catalog, add_card):
    add_card(customer)
    sub = subscribe(user=customer, price=price("pro", "month"), now=timezone.now())
    target = price("premium", "month")
    url = f"/fr/account/subscription/change/{target.pk}/"
    browser = Client(raise_request_exception=False)
    browser.force_login(customer)
    quote = token(text(browser.get(url)))

    response = while_another_request_changes(
        sub, lambda: browser.post(url, {"quote": quote}), price=target, plan=target.plan
    )

    assert response.status_code == 409
    assert ALREADY_CHANGED["fr"] in text(response)
    assert not Invoice.objects.filter(kind=InvoiceKind.PRORATION).exists()
    assert charges(customer) == [Invoice.objects.get(kind=InvoiceKind.FIRST).total]


def test_a_renewal_reminder_waiting_while_a_downgrade_is_scheduled_states_the_new_amount(
    customer, catalog, add_card, mailoutbox
):
    add_card(customer)
    sub = subscribe(user=customer, price=price("premium", "month"), now=timezone.now())
    lower = price("pro", "month")
    at = sub.next_billing_at - timedelta(days=2)  # 004: reminded 3 days before a monthly renewal

    sent = while_another_request_changes(
        sub, lambda: renewal_remind(subscription=sub, now=at), scheduled_price=lower
    )

    assert sent is True
    reminder = mailoutbox[-1].body
    total = invoice_amounts(lower, customer)[2]
    amounts = {format_money(total, "EUR", lang) for lang in LANGUAGES}
    assert any(amount in reminder for amount in amounts), reminder
    assert lower.plan.name in reminder


# --- gap-free invoice numbers under concurrent issues (CGI art. 242 nonies A) ---------------


def test_twenty_invoices_issued_at_once_are_numbered_one_to_twenty(catalog):
    """Twenty renewals issued at the same instant by twenty workers, the year's first ones
    (the counter row does not exist yet): 1 to 20, no gap, no number twice."""
    at = timezone.now()
    pro = price("pro", "month")
    subscriptions = [
        Subscription.objects.create(
            user=UserFactory(), plan=pro.plan, price=pro, status="active", currency="EUR"
        )
        for _ in range(N)
    ]
    barrier = threading.Barrier(N)
    errors = []

    def worker(sub):
        barrier.wait()
        try:
            with transaction.atomic():
                invoice_issue(
                    subscription=sub,
                    kind=InvoiceKind.RENEWAL,
                    period_start=at,
                    period_end=at + timedelta(days=30),
                    now=at,
                )
        except Exception as exc:  # any failure is the finding
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(sub,)) for sub in subscriptions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"{at.year}-{n:06d}" for n in range(1, N + 1)]
    # One invoice per subscription, each for the renewal's price.
    assert sorted(Invoice.objects.values_list("subscription_id", flat=True)) == sorted(
        sub.pk for sub in subscriptions
    )
    assert set(Invoice.objects.values_list("total", flat=True)) == {
        invoice_amounts(pro, subscriptions[0].user)[2]
    }
