"""A support agent's and a billing agent's day in the French admin: the queue, a contract
change approved with the amount shown, a refund partly approved, a ticket answered and
internal notes left on it and on the customer's file. axe runs on every page (settle), and
nothing they read is a raw code or JSON."""

import os
import re
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import expect

from subscriptions.models import (
    ChangeRequestStatus,
    ContractChangeRequest,
    Invoice,
    Price,
    RefundRequest,
    RefundStatus,
)
from subscriptions.money import format_money
from subscriptions.services.checkout import subscribe
from subscriptions.services.contract_changes import change_request_create, change_request_quote
from subscriptions.services.refunds import refund_request_create
from support import services as support
from support.models import InternalNote, TicketStatus
from tests.factories import UserFactory

ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS_DIR", "test-results/backoffice"))
RAW = re.compile(r"\b[a-z]+_[a-z_]+\b|\{\"|\bEUR \d")


def assert_reads_as_words(page):
    text = page.locator("#content").inner_text()
    found = set(RAW.findall(text))
    assert not found, f"raw codes on {page.url}: {found}"


def price(code, interval):
    return Price.objects.get(plan__code=code, interval=interval, currency="EUR")


def test_a_billing_and_a_support_agent_work_through_their_day_in_french(
    page, settle, login, catalog, add_card, transactional_db, mailoutbox, staff_member
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    now = timezone.now()
    # The morning's work: a contract change, a refund review, a ticket.
    standard = UserFactory(language="fr")
    add_card(standard)
    sub = subscribe(user=standard, price=price("standard", "year"), now=now - timedelta(days=90))
    change = change_request_create(
        user=standard,
        subscription=sub,
        target=price("premium", "year"),
        reason="Nous avons besoin des rappels SMS",
        message="",
    )
    pro = UserFactory(language="fr")
    add_card(pro)
    subscribe(user=pro, price=price("pro", "month"), now=now - timedelta(days=20))
    refund = refund_request_create(
        user=pro,
        invoice=Invoice.objects.get(user=pro),
        reason="service_problem",
        details="Le widget était en panne une semaine.",
        now=now,
    )
    ticket = support.ticket_create(
        user=pro,
        category="technical",
        subject="Le widget ne s’affiche plus",
        body="Depuis ce matin.",
        now=now,
    )

    billing = staff_member("Billing")
    billing.language = "fr"
    billing.save(update_fields=["language"])
    login(billing, language="fr")
    page.goto("/fr/admin/")
    settle()
    expect(page.get_by_role("heading", name="Demande de changement de contrat à décider (1)"))
    expect(page.get_by_role("heading", name="Demande de remboursement à examiner (1)"))
    assert_reads_as_words(page)
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

    page.get_by_role("link", name="Standard → Premium").click()
    settle()
    quote = change_request_quote(change=change, now=timezone.now())
    shown = format_money(quote.amount_due, "EUR", "fr")
    expect(
        page.get_by_text("Si vous acceptez, le client passe dès maintenant de Standard")
    ).to_be_visible()
    amount_text = page.get_by_text("Si vous acceptez").inner_text()
    assert (
        re.sub(r"\s", " ", shown) in re.sub(r"\s", " ", amount_text)
        or abs(
            int(re.sub(r"\D", "", re.search(r"(\d[\d\s\u202f]*,\d\d)", amount_text).group(1)))
            - quote.amount_due
        )
        <= 1
    )  # the quote moved by a second between the two reads
    assert_reads_as_words(page)
    page.get_by_label("Décision :").select_option("approve")
    page.get_by_label("Motif (obligatoire pour refuser) :").fill("Bienvenue sur Premium")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    settle()
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.APPROVED
    assert_reads_as_words(page)

    page.goto(f"/fr/admin/subscriptions/refundrequest/{refund.pk}/change/")
    settle()
    expect(page.get_by_text("Le widget était en panne une semaine.")).to_be_visible()
    assert_reads_as_words(page)
    page.get_by_label("Décision :").select_option("approve")
    page.get_by_label("Montant à rembourser :").fill("12.50")
    page.get_by_label("Motif (obligatoire pour refuser) :").fill("Panne d’une semaine")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    settle()
    refund.refresh_from_db()
    assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, 1250)

    page.goto("/fr/admin/metrics/")
    settle()
    expect(page.get_by_role("heading", name="Remboursements par règle")).to_be_visible()
    assert_reads_as_words(page)
    page.screenshot(path=str(ARTIFACTS / "metrics.png"), full_page=True)
    page.get_by_role("button", name="Déconnexion").click()
    settle()

    agent = staff_member("Support")
    agent.language = "fr"
    agent.save(update_fields=["language"])
    login(agent, language="fr")
    page.goto("/fr/admin/")
    settle()
    page.get_by_role("link", name=f"{ticket.reference} Le widget ne s’affiche plus").click()
    settle()
    assert_reads_as_words(page)
    page.get_by_label("Réponse au client :").fill("C’est réparé, merci de votre patience.")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    settle()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ANSWERED
    assert any(pro.email in m.to and "réparé" in m.body for m in mailoutbox)
    sent = len(mailoutbox)

    # A note for colleagues on the ticket, then another on the customer's file: never shown
    # to the customer, nobody e-mailed.
    page.goto(f"/fr/admin/support/ticket/{ticket.pk}/change/")
    settle()
    expect(
        page.get_by_role("heading", name="Notes internes (jamais montrées au client)")
    ).to_be_visible()
    page.get_by_label("Texte de la note :").first.fill(
        "Client patient, lui offrir un geste si récidive."
    )
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    settle()
    note = InternalNote.objects.get(ticket=ticket)
    assert (note.customer, note.author) == (pro, agent)
    page.goto(f"/fr/admin/customers/{pro.pk}/")
    settle()
    expect(page.get_by_text("Client patient, lui offrir un geste si récidive.")).to_be_visible()
    assert_reads_as_words(page)
    page.get_by_label("Ajouter une note interne").fill("Rappelé le 12 : tout fonctionne.")
    page.get_by_role("button", name="Enregistrer la note").click()
    settle()
    expect(page.get_by_text("Votre note est enregistrée.")).to_be_visible()
    expect(page.get_by_text("Rappelé le 12 : tout fonctionne.")).to_be_visible()
    assert_reads_as_words(page)
    assert InternalNote.objects.filter(customer=pro).count() == 2
    page.screenshot(path=str(ARTIFACTS / "customer.png"), full_page=True)
    assert len(mailoutbox) == sent
    assert RefundRequest.objects.get(pk=refund.pk).decided_by == billing
    assert ContractChangeRequest.objects.get(pk=change.pk).decided_by == billing
