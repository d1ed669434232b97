"""Terms (004): versions with a "last updated" date, a public page in both languages, and an
e-mail to every active customer, once, when a new version is published."""

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from legal import content, selectors, services
from legal.models import TermsSeen, TermsVersion
from legal.templatetags.terms import paragraphs
from subscriptions.models import AuditEvent
from tests.factories import UserFactory

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def first_version(db):
    """The version the data migration installs (the suite runs without migrations)."""
    content.seed(TermsVersion)
    return TermsVersion.objects.get(version=content.VERSION)


@pytest.fixture
def draft(db):
    return TermsVersion.objects.create(
        version="2.0",
        last_updated=date(2026, 2, 1),
        body_fr="1. Nouveautés\n\nNous avons précisé la garantie.",
        body_en="1. What changed\n\nWe made the guarantee clearer.",
    )


def test_the_first_version_is_dated_26_may_2025_and_published(first_version):
    assert first_version.last_updated == date(2025, 5, 26)
    assert first_version.published_at is not None
    assert first_version.notified_at is not None  # installing the portal e-mails nobody
    assert content.seed(TermsVersion) is False


@pytest.mark.parametrize("body", [content.BODY_EN, content.BODY_FR])
def test_the_first_version_covers_the_seed_004_topics(body):
    for number in ("14", "3", "7", "12"):
        assert number in body
    assert body.count("\n\n") > 10
    headings = [p for p in body.split("\n\n") if p[:2] in {f"{n}." for n in range(1, 10)}]
    assert len(headings) == 8


def test_the_page_is_public_and_shows_the_english_text_and_date(client, first_version):
    response = client.get("/en/terms/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Last updated: May 26, 2025" in html
    assert "<h2>2. 14-day money-back guarantee</h2>" in html
    assert "within 14 days" in html
    assert "garantie" not in html


def test_the_page_shows_the_french_text_and_date(client, first_version):
    html = client.get("/fr/terms/").content.decode()
    assert "26 mai 2025" in html
    assert "<h2>2. Garantie satisfait ou remboursé de 14 jours</h2>" in html
    assert "s’appliquent" in html


def test_the_page_in_french_says_derniere_mise_a_jour(client, first_version):
    # Needs var/i18n/support.json merged into locale/fr.
    assert "Dernière mise à jour : 26 mai 2025" in client.get("/fr/terms/").content.decode()


def test_previous_versions_are_listed_and_readable(client, first_version, draft):
    services.terms_publish(version=draft, actor=None, now=NOW)
    html = client.get("/en/terms/").content.decode()
    assert "Last updated: February 1, 2026" in html
    assert "We made the guarantee clearer." in html
    assert f'href="/en/terms/{first_version.pk}/"' in html
    assert "Version 1.0, last updated May 26, 2025" in html

    old = client.get(f"/en/terms/{first_version.pk}/").content.decode()
    assert "Last updated: May 26, 2025" in old
    assert "You are reading a previous version of our terms." in old


def test_an_unpublished_version_is_nowhere_to_be_seen(client, first_version, draft):
    assert client.get(f"/en/terms/{draft.pk}/").status_code == 404
    html = client.get("/en/terms/").content.decode()
    assert "Version 2.0" not in html
    assert "guarantee clearer" not in html
    assert client.get("/en/terms/999999/").status_code == 404


def test_no_published_version_is_a_page_not_an_error(client, db):
    response = client.get("/en/terms/")
    assert response.status_code == 200
    assert "have not been published yet" in response.content.decode()


def test_a_customer_viewing_the_terms_is_recorded_once(customer_client, customer, first_version):
    assert selectors.terms_unseen(customer) == first_version
    customer_client.get("/en/terms/")
    customer_client.get("/fr/terms/")
    seen = TermsSeen.objects.get(user=customer)
    assert seen.version == first_version
    assert selectors.terms_unseen(customer) is None


def test_a_new_version_is_unseen_until_viewed_and_old_ones_do_not_count(
    customer_client, customer, first_version, draft
):
    customer_client.get("/en/terms/")
    services.terms_publish(version=draft, actor=None, now=NOW)
    assert selectors.terms_unseen(customer) == draft
    customer_client.get(f"/en/terms/{first_version.pk}/")
    assert selectors.terms_unseen(customer) == draft
    customer_client.get(f"/en/terms/{draft.pk}/")
    assert selectors.terms_unseen(customer) is None


def test_nothing_is_unseen_before_any_publication(customer):
    assert selectors.terms_unseen(customer) is None


def test_the_page_query_count_is_fixed(client, first_version, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        client.get("/en/terms/")


@pytest.mark.django_db(transaction=True)
def test_publishing_emails_each_active_customer_once_in_their_language(
    admin_client, admin_user, draft, mailoutbox
):
    french = UserFactory(language="fr")
    english = UserFactory(language="en")
    UserFactory(is_active=False)
    UserFactory(is_staff=True)

    action = {"action": "publish", "_selected_action": [draft.pk]}
    response = admin_client.post("/en/admin/legal/termsversion/", action)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.published_at is not None
    assert draft.notified_at is not None
    assert AuditEvent.objects.filter(kind="terms_published", actor=admin_user).exists()

    by_address = {mail.to[0]: mail for mail in mailoutbox}
    assert len(mailoutbox) == 2
    assert set(by_address) == {french.email, english.email}
    mail = by_address[english.email]
    assert mail.subject == "Our terms of service have been updated"
    assert "February 1, 2026" in mail.body
    assert "http://127.0.0.1:8000/en/terms/" in mail.body
    assert 'href="http://127.0.0.1:8000/en/terms/"' in mail.alternatives[0][0]
    mail = by_address[french.email]
    assert "1 février 2026" in mail.body
    assert "http://127.0.0.1:8000/fr/terms/" in mail.body

    admin_client.post("/en/admin/legal/termsversion/", action)
    assert services.terms_publish(version=draft, actor=admin_user, now=timezone.now()) is False
    assert services.terms_notify(version_id=draft.pk, now=timezone.now()) == 0
    assert len(mailoutbox) == 2


def test_a_published_version_can_no_longer_be_edited(admin_client, first_version, draft):
    published = admin_client.get(f"/en/admin/legal/termsversion/{first_version.pk}/change/")
    assert 'name="body_en"' not in published.content.decode()
    editable = admin_client.get(f"/en/admin/legal/termsversion/{draft.pk}/change/")
    assert 'name="body_en"' in editable.content.decode()


def test_paragraphs_escape_the_text_and_make_numbered_lines_headings():
    html = paragraphs(
        "Intro <b>x</b>\nsecond line\n\n2. Title\n\n2. Not a title\nbecause two lines"
    )
    assert html == (
        "<p>Intro &lt;b&gt;x&lt;/b&gt;<br>second line</p>\n<h2>2. Title</h2>\n"
        "<p>2. Not a title<br>because two lines</p>"
    )
