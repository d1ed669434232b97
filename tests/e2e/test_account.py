import json
import re
import time
import zipfile

from playwright.sync_api import expect

from accounts.models import User
from support.models import Ticket


def test_export_shows_its_progress_then_downloads_a_zip_of_my_data(
    page, settle, login, subscribed_customer, customer, transactional_db, monkeypatch
):
    from privacy import services as privacy_services
    from privacy import tasks as privacy_tasks
    from privacy.models import DataExport

    subscribed_customer(language="en")
    queued = []
    monkeypatch.setattr(privacy_tasks.export_build, "delay", queued.append)  # a busy worker
    login(customer)
    page.goto("/en/account/settings/")
    settle()
    page.get_by_role("link", name="Export my data").click()
    settle()
    page.get_by_role("button", name="Export my data").click()
    settle()
    expect(page.get_by_label("Preparing your export")).to_be_visible()

    # The worker gets to it; the page, polling with htmx, offers the download by itself.
    from django.utils import timezone

    privacy_services.export_build(export=DataExport.objects.get(pk=queued[0]), now=timezone.now())
    download_link = page.get_by_role("link", name="Download my data")
    expect(download_link).to_be_visible(timeout=10_000)
    settle()
    with page.expect_download() as download_info:
        download_link.click()
    archive = zipfile.ZipFile(download_info.value.path())
    names = archive.namelist()
    assert "data.json" in names
    assert any(name.endswith(".csv") for name in names)
    data = json.loads(archive.read("data.json"))
    assert customer.email in json.dumps(data)
    invoice = customer.invoices.get()
    assert invoice.number in json.dumps(data)


def test_deleting_my_account_in_french_asks_for_my_password_again(
    page, settle, login, subscribed_customer, customer, transactional_db, mailoutbox, settings
):
    subscribed_customer(language="fr")
    email = customer.email
    login(customer, language="fr")
    page.goto("/fr/account/settings/")
    settle()
    # The sign-in is now older than the re-authentication window.
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 1
    time.sleep(1.5)
    links = page.locator("main a")
    expect(links.last).to_have_text("Supprimer mon compte")
    links.last.click()
    settle()
    expect(page.get_by_role("heading", level=1)).to_have_text("Supprimer mon compte")
    page.get_by_label("Je comprends").check()
    page.get_by_role("button", name="Supprimer mon compte").click()
    expect(page).to_have_url(re.compile(r"/fr/auth/reauthenticate/"))
    settle()
    assert User.objects.get(pk=customer.pk).is_active  # nothing happens without the password
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
    page.locator("input[name=password]").fill("correct horse battery staple")
    page.locator("main form button[type=submit]").click()
    settle()
    # allauth resumes the suspended confirmation once the password is given.
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre compte a été supprimé")

    user = User.objects.get(pk=customer.pk)
    assert not user.is_active
    assert user.email != email
    assert email in [address for message in mailoutbox for address in message.to]
    page.goto("/fr/account/")
    expect(page).to_have_url(re.compile(r"/fr/auth/login/"))
    settle()


def test_a_ticket_is_answered_by_staff_in_the_admin(
    page, settle, login, customer, transactional_db, staff_member, mailoutbox, catalog
):
    login(customer, language="en")
    page.goto("/en/account/support/")
    settle()
    page.get_by_role("link", name="Open a ticket").click()
    settle()
    page.get_by_label("Subject").fill("Widget colours")
    page.get_by_label("Message").fill("How do I change the widget colours?")
    page.get_by_role("button", name="Send").click()
    settle()
    ticket = Ticket.objects.get()
    page.get_by_role("button", name="Sign out").click()
    settle()

    login(staff_member("Support"))
    page.goto(f"/en/admin/support/ticket/{ticket.pk}/change/")
    settle()
    page.get_by_label("Reply to the customer").fill("Settings, then Branding.")
    page.get_by_role("button", name="Save", exact=True).click()
    settle()

    ticket.refresh_from_db()
    assert ticket.status == "answered"
    assert any("Settings, then Branding." in m.body for m in mailoutbox if customer.email in m.to)
